package huaweikms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/policy"
)

// flexString decodes a JSON string, number, boolean or null as a string:
// the API reference shows numeric detail fields where the SDK and the live
// service use strings.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string or a number, got %.20s", b)
	default: // number or boolean, kept as written
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexString(b)
	}
	return nil
}

// keyDetails is the API's KeyDetails, decoded tolerantly.
type keyDetails struct {
	KeyID                  flexString `json:"key_id"`
	KeyAlias               flexString `json:"key_alias"`
	KeySpec                flexString `json:"key_spec"`
	KeyUsage               flexString `json:"key_usage"`
	KeyDescription         flexString `json:"key_description"`
	CreationDate           flexString `json:"creation_date"`
	KeyState               flexString `json:"key_state"`
	DefaultKeyFlag         flexString `json:"default_key_flag"`
	Origin                 flexString `json:"origin"`
	KeyRotationEnabled     flexString `json:"key_rotation_enabled"`
	SysEnterpriseProjectID flexString `json:"sys_enterprise_project_id"`
	KeystoreID             flexString `json:"keystore_id"`
}

// fromModel converts the SDK's KeyDetails.
func fromModel(m *model.KeyDetails) keyDetails {
	str := func(p *string) flexString {
		if p == nil {
			return ""
		}
		return flexString(*p)
	}
	d := keyDetails{
		KeyID: str(m.KeyId), KeyAlias: str(m.KeyAlias), KeyDescription: str(m.KeyDescription),
		CreationDate: str(m.CreationDate), KeyState: str(m.KeyState), DefaultKeyFlag: str(m.DefaultKeyFlag),
		KeyRotationEnabled: str(m.KeyRotationEnabled), SysEnterpriseProjectID: str(m.SysEnterpriseProjectId),
		KeystoreID: str(m.KeystoreId),
	}
	if m.KeySpec != nil {
		d.KeySpec = flexString(m.KeySpec.Value())
	}
	if m.KeyUsage != nil {
		d.KeyUsage = flexString(m.KeyUsage.Value())
	}
	if m.Origin != nil {
		d.Origin = flexString(m.Origin.Value())
	}
	return d
}

var states = map[string]string{
	"1": policy.StatePendingActivation,
	"2": policy.StateEnabled,
	"3": policy.StateDisabled,
	"4": policy.StatePendingDeletion,
	"5": policy.StatePendingImport,
}

// key turns the API's strings into a policy.Key.
func (d keyDetails) key() policy.Key {
	k := policy.Key{
		ID:                strings.TrimSpace(string(d.KeyID)),
		Alias:             string(d.KeyAlias),
		State:             "unknown",
		Spec:              string(d.KeySpec),
		Usage:             string(d.KeyUsage),
		Origin:            string(d.Origin),
		Description:       string(d.KeyDescription),
		EnterpriseProject: string(d.SysEnterpriseProjectID),
		Keystore:          string(d.KeystoreID),
	}
	if s, ok := states[strings.TrimSpace(string(d.KeyState))]; ok {
		k.State = s
	}
	if ms, err := strconv.ParseInt(strings.TrimSpace(string(d.CreationDate)), 10, 64); err == nil && ms > 0 {
		k.Created = time.UnixMilli(ms).UTC()
	}
	k.Default = strings.TrimSpace(string(d.DefaultKeyFlag)) == "1" || strings.HasSuffix(k.Alias, "/default")
	k.RotationEnabled, _ = strconv.ParseBool(strings.TrimSpace(string(d.KeyRotationEnabled)))
	return k
}

// bulkTag is one tag of a bulk listing entry.
type bulkTag struct {
	Key   flexString `json:"key"`
	Value flexString `json:"value"`
}

// bulkEntry is one resource of resource_instances/action, in either shape:
// documented {resource_id, resource_detail, tags} or live {key_details, tags}.
type bulkEntry struct {
	ResourceID     flexString  `json:"resource_id"`
	ResourceDetail *keyDetails `json:"resource_detail"`
	KeyDetails     *keyDetails `json:"key_details"`
	Tags           *[]bulkTag  `json:"tags"`
}

// bulkPage is the response of resource_instances/action.
type bulkPage struct {
	Resources  []json.RawMessage `json:"resources"`
	TotalCount flexString        `json:"total_count"`
}

// bulkRecord is one key of a bulk page with its tags.
type bulkRecord struct {
	Key  policy.Key
	Tags map[string]string
}

// decodeBulk decodes one page of the bulk listing. Entries that cannot be
// tied to a key, or whose tags are missing, are skipped (counted in
// skipped): the key-by-key phase delivers them with unknown tags. An error
// means the page as a whole is unreadable. total is -1 when absent.
func decodeBulk(data []byte) (recs []bulkRecord, n int, total int, skipped int, err error) {
	var p bulkPage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("decode resource_instances response: %w", err)
	}
	if p.Resources == nil && !bytes.Contains(data, []byte(`"resources"`)) {
		return nil, 0, 0, 0, errors.New("decode resource_instances response: no resources field")
	}
	total = -1
	if t, err := strconv.Atoi(strings.TrimSpace(string(p.TotalCount))); err == nil {
		total = t
	}
	for _, raw := range p.Resources {
		var e bulkEntry
		if err := json.Unmarshal(raw, &e); err != nil || e.Tags == nil {
			skipped++
			continue
		}
		var d keyDetails
		switch {
		case e.ResourceDetail != nil:
			d = *e.ResourceDetail
		case e.KeyDetails != nil:
			d = *e.KeyDetails
		}
		if id := strings.TrimSpace(string(e.ResourceID)); id != "" {
			if d.KeyID != "" && strings.TrimSpace(string(d.KeyID)) != id {
				skipped++ // contradictory ids: trust neither
				continue
			}
			d.KeyID = flexString(id)
		}
		k := d.key()
		if k.ID == "" {
			skipped++
			continue
		}
		tags := make(map[string]string, len(*e.Tags))
		for _, t := range *e.Tags {
			if t.Key != "" {
				tags[string(t.Key)] = string(t.Value)
			}
		}
		recs = append(recs, bulkRecord{Key: k, Tags: tags})
	}
	return recs, len(p.Resources), total, skipped, nil
}

// requestIDFromBody finds request_id in a flat gateway error body.
func requestIDFromBody(body []byte) string {
	var v struct {
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.RequestID
}

func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
