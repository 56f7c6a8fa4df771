package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// dispatch serves an authenticated call to a known project.
func (s *Server) dispatch(rt route, body []byte, fs *faultState, reqID string) reply {
	if rt.keyID != "" {
		if st, ok := fs.f.FailKeys[rt.keyID]; ok {
			return s.failKey(st, rt.keyID, reqID)
		}
	}
	switch rt.api {
	case APIListKeys:
		return s.listKeys(rt, body)
	case APIDescribeKey:
		return s.describeKey(rt, body, fs, reqID)
	case APIResourceInstances:
		return s.resourceInstances(rt, body)
	case APIShowTags:
		return s.showTags(rt)
	default:
		return s.tagsAction(rt, body)
	}
}

// decode reads a JSON object strictly: unknown fields, wrong types and
// trailing data are errors (400 KMS.0202).
func decode(body []byte, v any, emptyOK bool) *reply {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		r := kmsErr(http.StatusBadRequest, "KMS.0204", "The request body is missing")
		return &r
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("data after the JSON object")
		}
	}
	if err != nil {
		r := kmsErr(http.StatusBadRequest, "KMS.0202", "Invalid JSON in the request body: "+err.Error())
		return &r
	}
	return nil
}

func badSequence(seq *string) *reply {
	if seq != nil && len(*seq) != 36 {
		r := kmsErr(http.StatusBadRequest, "KMS.0206", "Invalid sequence: it must be 36 bytes, e.g. 919c82d4-8046-4722-9094-35c3c6524cff")
		return &r
	}
	return nil
}

func (s *Server) project(id string) *project { return s.projects[id] }

// listKeysRequest is the body of list-keys.
type listKeysRequest struct {
	Limit               *string `json:"limit"`
	Marker              *string `json:"marker"`
	KeyState            *string `json:"key_state"`
	KeySpec             *string `json:"key_spec"`
	EnterpriseProjectID *string `json:"enterprise_project_id"`
	Sequence            *string `json:"sequence"`
}

type listKeysResponse struct {
	Keys       []string      `json:"keys"`
	KeyDetails []*KeyDetails `json:"key_details"`
	NextMarker string        `json:"next_marker"`
	Truncated  string        `json:"truncated"`
	Total      int           `json:"total"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) listKeys(rt route, body []byte) reply {
	var req listKeysRequest
	if e := decode(body, &req, true); e != nil {
		return *e
	}
	if e := badSequence(req.Sequence); e != nil {
		return *e
	}
	limit := min(1000, s.opts.MaxListLimit)
	if l := str(req.Limit); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > s.opts.MaxListLimit {
			return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid limit %q: it must be 1..%d", l, s.opts.MaxListLimit))
		}
		limit = n
	}
	spec := str(req.KeySpec)
	switch {
	case spec == "":
		spec = "AES_256"
	case spec == "ALL" || knownSpec(spec):
	default:
		return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid key_spec %q", spec))
	}
	state := str(req.KeyState)
	if state != "" && !validState(state) {
		return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid key_state %q", state))
	}
	eps := str(req.EnterpriseProjectID)
	if eps == "all_granted_eps" {
		eps = ""
	}
	match := func(k *key) bool {
		d := k.details
		return (spec == "ALL" || d.KeySpec == spec) && (state == "" || d.KeyState == state) &&
			(eps == "" || d.SysEnterpriseProjectID == eps)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.project(rt.project)
	start := 0
	if m := str(req.Marker); m != "" {
		i, ok := p.afterMarker(m)
		if !ok {
			return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid marker %q", m))
		}
		start = i
	}
	resp := listKeysResponse{Keys: []string{}, KeyDetails: []*KeyDetails{}, Truncated: "false"}
	total := 0
	var last *key
	for i, k := range p.keys {
		if !match(k) {
			continue
		}
		total++
		if i < start {
			continue
		}
		if len(resp.Keys) < limit {
			resp.Keys = append(resp.Keys, k.details.KeyID)
			resp.KeyDetails = append(resp.KeyDetails, k.details)
			last = k
		} else if resp.Truncated == "false" {
			resp.Truncated = "true"
			resp.NextMarker = marker(last)
		}
	}
	resp.Total = total
	return reply{http.StatusOK, resp}
}

type describeKeyRequest struct {
	KeyID    string  `json:"key_id"`
	Sequence *string `json:"sequence"`
}

func (s *Server) describeKey(rt route, body []byte, fs *faultState, reqID string) reply {
	var req describeKeyRequest
	if e := decode(body, &req, false); e != nil {
		return *e
	}
	if e := badSequence(req.Sequence); e != nil {
		return *e
	}
	if req.KeyID == "" {
		return kmsErr(http.StatusBadRequest, "KMS.0204", "The parameter key_id is missing")
	}
	if st, ok := fs.f.FailKeys[req.KeyID]; ok {
		return s.failKey(st, req.KeyID, reqID)
	}
	if !validKeyID(req.KeyID) {
		return kmsErr(http.StatusBadRequest, "KMS.0205", fmt.Sprintf("Invalid key_id %q", req.KeyID))
	}
	s.mu.RLock()
	k, ok := s.project(rt.project).byID[req.KeyID]
	s.mu.RUnlock()
	if !ok {
		return notFound(req.KeyID)
	}
	return reply{http.StatusOK, map[string]*KeyDetails{"key_info": k.details}}
}

func notFound(id string) reply {
	return kmsErr(http.StatusNotFound, "KMS.0207", "The key "+id+" does not exist")
}

type tagFilter struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

type matchItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type bulkRequest struct {
	Limit    *string     `json:"limit"`
	Offset   *string     `json:"offset"`
	Action   string      `json:"action"`
	Tags     []tagFilter `json:"tags"`
	Matches  []matchItem `json:"matches"`
	Sequence *string     `json:"sequence"`
}

// liveEntry is a bulk listing entry as the live service answered.
type liveEntry struct {
	KeyDetails *KeyDetails `json:"key_details"`
	Tags       []Tag       `json:"tags"`
}

// docEntry is a bulk listing entry as documented (the SDK model).
type docEntry struct {
	ResourceID     string `json:"resource_id"`
	ResourceDetail any    `json:"resource_detail"` // *KeyDetails or numericDetails
	ResourceName   string `json:"resource_name"`
	Tags           []Tag  `json:"tags"`
}

// numericFields are the KeyDetails fields holding numbers, which the API
// reference's example writes as JSON numbers.
var numericFields = []string{"creation_date", "scheduled_deletion_date", "key_state", "default_key_flag",
	"key_type", "expiration_time", "pending_days"}

// numericDetails encodes a key's details with numericFields as JSON numbers
// (Options.NumericDetails); a field that is not a whole number stays a string.
type numericDetails struct{ d *KeyDetails }

// MarshalJSON writes the details with the numeric fields unquoted.
func (n numericDetails) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(n.d)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for _, f := range numericFields {
		var v string
		if json.Unmarshal(m[f], &v) != nil {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
			m[f] = json.RawMessage(v) // canonical digits only: "007" stays a string
		}
	}
	return json.Marshal(m)
}

func (s *Server) resourceInstances(rt route, body []byte) reply {
	var req bulkRequest
	if e := decode(body, &req, false); e != nil {
		return *e
	}
	if e := badSequence(req.Sequence); e != nil {
		return *e
	}
	switch req.Action {
	case "filter", "count":
	case "":
		return kmsErr(http.StatusBadRequest, "KMS.0204", "The parameter action is missing")
	default:
		return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid action %q: it must be filter or count", req.Action))
	}
	limit, offset := 10, 0
	if l := str(req.Limit); req.Limit != nil {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid limit %q: it must be 1..1000", l))
		}
		limit = n
	}
	if o := str(req.Offset); req.Offset != nil {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid offset %q", o))
		}
		offset = n
	}
	seen := map[string]bool{}
	for _, f := range req.Tags {
		if f.Key == "" {
			return kmsErr(http.StatusBadRequest, "KMS.0401", "A tag filter has an empty key")
		}
		if seen[f.Key] {
			return kmsErr(http.StatusBadRequest, "KMS.0403", fmt.Sprintf("The tag filter key %q is given twice", f.Key))
		}
		seen[f.Key] = true
	}
	for _, m := range req.Matches {
		if m.Key != "resource_name" {
			return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid matches key %q: only resource_name is supported", m.Key))
		}
	}
	match := func(k *key) bool {
		if s.hidden[k.details.KeyID] || (s.opts.BulkOmitUntagged && len(k.tags) == 0) {
			return false
		}
		for _, f := range req.Tags {
			v, ok := tagValue(k.tags, f.Key)
			if !ok || (len(f.Values) > 0 && !contains(f.Values, v)) {
				return false
			}
		}
		for _, m := range req.Matches {
			if m.Value != "" && !strings.Contains(k.details.KeyAlias, m.Value) {
				return false
			}
		}
		return true
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.project(rt.project)
	total := 0
	var page []*key
	for _, k := range p.keys {
		if !match(k) {
			continue
		}
		if req.Action == "filter" && total >= offset && len(page) < limit {
			page = append(page, k)
		}
		total++
	}
	if req.Action == "count" {
		return reply{http.StatusOK, map[string]int{"total_count": total}}
	}
	if s.opts.DocumentedShapes {
		res := make([]docEntry, len(page))
		for i, k := range page {
			var d any = k.details
			if s.opts.NumericDetails {
				d = numericDetails{k.details}
			}
			res[i] = docEntry{k.details.KeyID, d, k.details.KeyAlias, k.tags}
		}
		return reply{http.StatusOK, struct {
			Resources  []docEntry `json:"resources"`
			TotalCount int        `json:"total_count"`
		}{res, total}}
	}
	res := make([]liveEntry, len(page))
	for i, k := range page {
		res[i] = liveEntry{k.details, k.tags}
	}
	return reply{http.StatusOK, struct {
		TotalCount int         `json:"total_count"`
		Resources  []liveEntry `json:"resources"`
	}{total, res}}
}

func tagValue(tags []Tag, k string) (string, bool) {
	for _, t := range tags {
		if t.Key == k {
			return t.Value, true
		}
	}
	return "", false
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) showTags(rt route) reply {
	if !validKeyID(rt.keyID) {
		return kmsErr(http.StatusBadRequest, "KMS.0205", fmt.Sprintf("Invalid key_id %q", rt.keyID))
	}
	s.mu.RLock()
	k, ok := s.project(rt.project).byID[rt.keyID]
	var tags []Tag
	if ok {
		tags = k.tags
	}
	s.mu.RUnlock()
	if !ok {
		return notFound(rt.keyID)
	}
	return reply{http.StatusOK, struct {
		Tags         []Tag `json:"tags"`
		ExistTagsNum int   `json:"existTagsNum"`
	}{tags, len(tags)}}
}

type tagItem struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type tagsActionRequest struct {
	Tags     []tagItem `json:"tags"`
	Action   string    `json:"action"`
	Sequence *string   `json:"sequence"`
}

func (s *Server) tagsAction(rt route, body []byte) reply {
	var req tagsActionRequest
	if e := decode(body, &req, false); e != nil {
		return *e
	}
	switch req.Action {
	case "create", "delete":
	case "":
		return kmsErr(http.StatusBadRequest, "KMS.0204", "The parameter action is missing")
	default:
		return kmsErr(http.StatusBadRequest, "KMS.0308", fmt.Sprintf("Invalid action %q: it must be create or delete", req.Action))
	}
	if e := badSequence(req.Sequence); e != nil {
		return *e
	}
	if len(req.Tags) == 0 {
		return kmsErr(http.StatusBadRequest, "KMS.0204", "The parameter tags is missing or empty")
	}
	create := req.Action == "create"
	// The source document's rules hold for both actions; reserved prefixes
	// (a user guide rule) only for create.
	reserved := s.opts.ReservedPrefixes
	if !create {
		reserved = nil
	}
	seen := make(map[string]bool, len(req.Tags))
	for _, t := range req.Tags {
		if p := checkTagKey(t.Key, reserved); p != "" {
			return kmsErr(http.StatusBadRequest, "KMS.0401", fmt.Sprintf("Invalid tag key %q: %s", t.Key, p))
		}
		if p := checkTagValue(str(t.Value)); p != "" {
			return kmsErr(http.StatusBadRequest, "KMS.0402", fmt.Sprintf("Invalid value of tag %q: %s", t.Key, p))
		}
		if seen[t.Key] {
			return kmsErr(http.StatusBadRequest, "KMS.0403", fmt.Sprintf("The tag key %q is given twice in one request", t.Key))
		}
		seen[t.Key] = true
	}
	if !validKeyID(rt.keyID) {
		return kmsErr(http.StatusBadRequest, "KMS.0205", fmt.Sprintf("Invalid key_id %q", rt.keyID))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.project(rt.project).byID[rt.keyID]
	if !ok {
		return notFound(rt.keyID)
	}
	if k.isDefault() {
		return kmsErr(http.StatusBadRequest, "KMS.0211", "The default key "+rt.keyID+" cannot be tagged")
	}
	tags := make([]Tag, 0, len(k.tags)+len(req.Tags))
	if create {
		tags = append(tags, k.tags...)
		for _, t := range req.Tags {
			i := indexTag(tags, t.Key)
			if i >= 0 {
				tags[i].Value = str(t.Value)
			} else {
				tags = append(tags, Tag{t.Key, str(t.Value)})
			}
		}
		if len(tags) > s.opts.MaxTags {
			return kmsErr(http.StatusBadRequest, "KMS.0409",
				fmt.Sprintf("The number of tags would reach %d, more than the limit of %d", len(tags), s.opts.MaxTags))
		}
		sortTags(tags)
	} else {
		drop := make(map[string]bool, len(req.Tags))
		for _, t := range req.Tags {
			v, has := tagValue(k.tags, t.Key)
			switch {
			case !has || (t.Value != nil && *t.Value != v):
				if s.opts.DeleteMissingTagError {
					return kmsErr(http.StatusBadRequest, "KMS.0416", fmt.Sprintf("The tag %q does not exist", t.Key))
				}
			default:
				drop[t.Key] = true
			}
		}
		for _, t := range k.tags {
			if !drop[t.Key] {
				tags = append(tags, t)
			}
		}
	}
	k.tags = tags
	return reply{status: http.StatusNoContent}
}

func indexTag(tags []Tag, k string) int {
	for i, t := range tags {
		if t.Key == k {
			return i
		}
	}
	return -1
}
