package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// KeyDetails is a KMS key as the API describes it (the SDK's KeyDetails plus
// the fields the live service also returns). Every field is a string, as on
// the wire; dates are epoch milliseconds.
type KeyDetails struct {
	KeyID                  string `json:"key_id"`
	DomainID               string `json:"domain_id"`
	KeyAlias               string `json:"key_alias"`
	Realm                  string `json:"realm"`
	KeySpec                string `json:"key_spec"`
	KeyUsage               string `json:"key_usage"`
	KeyDescription         string `json:"key_description"`
	CreationDate           string `json:"creation_date"`
	ScheduledDeletionDate  string `json:"scheduled_deletion_date"`
	KeyState               string `json:"key_state"`
	DefaultKeyFlag         string `json:"default_key_flag"`
	KeyType                string `json:"key_type"`
	ExpirationTime         string `json:"expiration_time"`
	Origin                 string `json:"origin"`
	KeyRotationEnabled     string `json:"key_rotation_enabled"`
	SysEnterpriseProjectID string `json:"sys_enterprise_project_id"`
	KeystoreID             string `json:"keystore_id"`
	// PendingDays, KeystoreType and MultiRegionKeyType are returned by the
	// live service but absent from the SDK model.
	PendingDays        string `json:"pending_days"`
	KeystoreType       string `json:"keystore_type"`
	MultiRegionKeyType string `json:"multi_region_key_type"`
}

// Tag is one tag of a key.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SeedKey is one key with its tags, in the shape of the API's own resource
// listing (resource_instances/action), so that a captured response can seed
// the emulator. ProjectID selects the project (empty: the first configured).
type SeedKey struct {
	ProjectID      string     `json:"project_id,omitempty"`
	ResourceID     string     `json:"resource_id"`
	ResourceDetail KeyDetails `json:"resource_detail"`
	Tags           []Tag      `json:"tags"`
}

// seedEntry accepts both the documented entry shape and the live one
// (key_details instead of resource_detail, no resource_id).
type seedEntry struct {
	ProjectID      string      `json:"project_id"`
	ResourceID     string      `json:"resource_id"`
	ResourceName   string      `json:"resource_name"`
	ResourceDetail *KeyDetails `json:"resource_detail"`
	KeyDetails     *KeyDetails `json:"key_details"`
	Tags           []Tag       `json:"tags"`
}

// LoadSeed reads a seed: a JSON array of entries shaped like the resources of
// a resource_instances/action response, or such a response itself
// ({"resources":[...]}). Entries may use resource_detail (documented shape)
// or key_details (live shape); the key id comes from resource_id or the
// detail's key_id. It checks every entry and reports the first problem with
// its index: a missing or malformed id, conflicting ids, a key listed twice
// in a project, a tag that breaks the API's rules (see doc.go), duplicate tag
// keys, or tags on a default key. Missing detail fields get defaults when the
// seed is served (see doc.go).
func LoadSeed(r io.Reader) ([]SeedKey, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	data = bytes.TrimSpace(data)
	var entries []seedEntry
	switch {
	case len(data) > 0 && data[0] == '{':
		var resp struct {
			Resources []seedEntry `json:"resources"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			return nil, fmt.Errorf("decode seed: %w", err)
		}
		if resp.Resources == nil {
			return nil, errors.New("decode seed: object has no resources array")
		}
		entries = resp.Resources
	default:
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, fmt.Errorf("decode seed: %w", err)
		}
	}
	out := make([]SeedKey, 0, len(entries))
	seen := make(map[[2]string]bool, len(entries))
	for i, e := range entries {
		k, err := e.toSeedKey()
		if err != nil {
			return nil, fmt.Errorf("seed entry %d: %w", i, err)
		}
		if err := validateSeedKey(k); err != nil {
			return nil, fmt.Errorf("seed entry %d (key %s): %w", i, k.ResourceID, err)
		}
		id := [2]string{k.ProjectID, k.ResourceID}
		if seen[id] {
			return nil, fmt.Errorf("seed entry %d: key %s listed twice", i, k.ResourceID)
		}
		seen[id] = true
		out = append(out, k)
	}
	return out, nil
}

func (e seedEntry) toSeedKey() (SeedKey, error) {
	if e.ResourceDetail != nil && e.KeyDetails != nil {
		return SeedKey{}, errors.New("both resource_detail and key_details given")
	}
	d := e.ResourceDetail
	if d == nil {
		d = e.KeyDetails
	}
	k := SeedKey{ProjectID: e.ProjectID, ResourceID: e.ResourceID, Tags: e.Tags}
	if d != nil {
		k.ResourceDetail = *d
	}
	switch {
	case k.ResourceID == "" && k.ResourceDetail.KeyID == "":
		return SeedKey{}, errors.New("no resource_id and no key_id")
	case k.ResourceID == "":
		k.ResourceID = k.ResourceDetail.KeyID
	case k.ResourceDetail.KeyID == "":
		k.ResourceDetail.KeyID = k.ResourceID
	case k.ResourceID != k.ResourceDetail.KeyID:
		return SeedKey{}, fmt.Errorf("resource_id %q differs from key_id %q", k.ResourceID, k.ResourceDetail.KeyID)
	}
	if k.ResourceDetail.KeyAlias == "" {
		k.ResourceDetail.KeyAlias = e.ResourceName
	}
	return k, nil
}

// validateSeedKey checks what the real service could never hold.
func validateSeedKey(k SeedKey) error {
	if !validKeyID(k.ResourceID) {
		return fmt.Errorf("malformed key id %q", k.ResourceID)
	}
	d := k.ResourceDetail
	if d.CreationDate != "" {
		if _, err := strconv.ParseInt(d.CreationDate, 10, 64); err != nil {
			return fmt.Errorf("creation_date %q is not epoch milliseconds", d.CreationDate)
		}
	}
	if d.KeySpec != "" && !knownSpec(d.KeySpec) {
		return fmt.Errorf("unknown key_spec %q", d.KeySpec)
	}
	if d.KeyState != "" && !validState(d.KeyState) {
		return fmt.Errorf("unknown key_state %q", d.KeyState)
	}
	if d.DefaultKeyFlag != "" && d.DefaultKeyFlag != "0" && d.DefaultKeyFlag != "1" {
		return fmt.Errorf("default_key_flag %q is not 0 or 1", d.DefaultKeyFlag)
	}
	if d.DefaultKeyFlag == "1" && len(k.Tags) > 0 {
		return errors.New("a default key cannot have tags")
	}
	seen := make(map[string]bool, len(k.Tags))
	for _, t := range k.Tags {
		if p := checkTagKey(t.Key, DefaultReservedPrefixes); p != "" {
			return fmt.Errorf("tag key %q: %s", t.Key, p)
		}
		if p := checkTagValue(t.Value); p != "" {
			return fmt.Errorf("tag %q value %q: %s", t.Key, t.Value, p)
		}
		if seen[t.Key] {
			return fmt.Errorf("tag key %q given twice", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// validKeyID accepts what KMS key ids look like (UUIDs) and, leniently, any
// 1..64 characters of letters, digits, '-' and '_'.
func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var specs = []string{"AES_256", "SM4", "RSA_2048", "RSA_3072", "RSA_4096", "EC_P256", "EC_P384", "SM2"}

func knownSpec(s string) bool {
	for _, v := range specs {
		if v == s {
			return true
		}
	}
	return false
}

func validState(s string) bool { return len(s) == 1 && s[0] >= '1' && s[0] <= '5' }

// DefaultReservedPrefixes are the tag key prefixes the emulator rejects by default.
var DefaultReservedPrefixes = []string{"_sys_"}

// Tag rule limits from the API reference (BatchCreateKmsTags).
const (
	MaxTagKeyLen   = 36
	MaxTagValueLen = 43
)

// checkTagKey returns a problem description, or "" for a valid key.
func checkTagKey(k string, reserved []string) string {
	n := utf8.RuneCountInString(k)
	switch {
	case n == 0:
		return "key is empty"
	case n > MaxTagKeyLen:
		return fmt.Sprintf("key is longer than %d characters", MaxTagKeyLen)
	}
	if c, bad := forbidden(k); bad {
		return fmt.Sprintf("key contains forbidden character %q", c)
	}
	for _, p := range reserved {
		if len(k) >= len(p) && k[:len(p)] == p {
			return fmt.Sprintf("key uses the reserved prefix %q", p)
		}
	}
	return ""
}

func checkTagValue(v string) string {
	if utf8.RuneCountInString(v) > MaxTagValueLen {
		return fmt.Sprintf("value is longer than %d characters", MaxTagValueLen)
	}
	if c, bad := forbidden(v); bad {
		return fmt.Sprintf("value contains forbidden character %q", c)
	}
	return ""
}

func forbidden(s string) (rune, bool) {
	for _, c := range s {
		if c < 32 || c == '*' || c == '<' || c == '>' || c == '\\' || c == '=' {
			return c, true
		}
	}
	return 0, false
}
