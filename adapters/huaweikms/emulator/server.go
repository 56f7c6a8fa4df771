package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Defaults the emulator and its clients share.
const (
	DefaultProject = "0b1f2e3d4c5b6a79887766554433221a"
	DefaultAK      = "TAGWARDENEMULATORAK01"
	DefaultSK      = "tagwarden-emulator-secret-key-0000000000"
	// DefaultMaxTags is the API reference's limit of tags per key.
	DefaultMaxTags = 10
	// DefaultMaxListLimit is the largest list-keys limit accepted by default.
	DefaultMaxListLimit = 1000
	// DefaultRealm and DefaultDomain fill keys that a seed leaves without them.
	DefaultRealm  = "ap-southeast-1"
	DefaultDomain = "16e914a4f83a4c6ba9f06c24648cc146"
	maxBody       = 1 << 20
)

// Options configure a Server. The zero value serves DefaultProject with
// DefaultAK/DefaultSK, live response shapes and no keys.
type Options struct {
	// Projects served (empty: DefaultProject). The first is where seed keys
	// without a project_id go.
	Projects []string
	// AccessKey and SecretKey verify signatures (empty: DefaultAK/DefaultSK).
	AccessKey, SecretKey string
	// SecurityToken, when set, must be sent (and signed) as X-Security-Token,
	// as with temporary credentials; when empty a request carrying one is refused.
	SecurityToken string
	// MaxTags per key (0: DefaultMaxTags); a create that would exceed it gets KMS.0409.
	MaxTags int
	// MaxListLimit is the largest list-keys limit (0: DefaultMaxListLimit); more gets 400.
	MaxListLimit int
	// DocumentedShapes answers with the documented/SDK shapes: bulk listing
	// entries {resource_id, resource_detail, resource_name, tags} and nested
	// {"error":{...}} bodies for gateway errors too. False (the default)
	// answers as the live service did: bulk entries {key_details, tags} and
	// flat gateway bodies for 401, 403, 404 (unknown API) and 429.
	DocumentedShapes bool
	// NumericDetails, with DocumentedShapes, writes the numeric fields of
	// the bulk listing's resource_detail (creation_date,
	// scheduled_deletion_date, key_state, default_key_flag, key_type,
	// expiration_time, pending_days) as JSON numbers, as the API
	// reference's example does; an empty one stays "". Without
	// DocumentedShapes it changes nothing.
	NumericDetails bool
	// BulkOmitUntagged leaves keys with no tags (default keys included) out of
	// resource_instances/action, as the live service was seen to do for some.
	BulkOmitUntagged bool
	// DeleteMissingTagError answers a delete of a tag the key does not have
	// with 400 KMS.0416 instead of success.
	DeleteMissingTagError bool
	// ReservedPrefixes are tag key prefixes refused on create (nil:
	// DefaultReservedPrefixes; empty non-nil: none).
	ReservedPrefixes []string
	// Seed keys loaded at start (see LoadSeed, SampleKeys).
	Seed []SeedKey
	// Now is the clock for signature freshness (nil: time.Now).
	Now func() time.Time
}

// Server is a local Huawei KMS. It is an http.Handler; Listen serves it on
// a TCP port. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	mu       sync.RWMutex
	projects map[string]*project
	hidden   map[string]bool
	faults   atomic.Pointer[faultState]
	stats    stats
	reqIDs   localsvc.RequestIDs

	ln localsvc.Listener
}

// New builds a Server from opts, loading opts.Seed. It fails on invalid
// options or seed keys: what LoadSeed refuses, a key in a project not
// served, a key listed twice, more than MaxTags tags.
func New(opts Options) (*Server, error) {
	if len(opts.Projects) == 0 {
		opts.Projects = []string{DefaultProject}
	}
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAK
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSK
	}
	if opts.MaxTags <= 0 {
		opts.MaxTags = DefaultMaxTags
	}
	if opts.MaxListLimit <= 0 {
		opts.MaxListLimit = DefaultMaxListLimit
	}
	if opts.ReservedPrefixes == nil {
		opts.ReservedPrefixes = DefaultReservedPrefixes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		projects: make(map[string]*project, len(opts.Projects)),
		hidden:   map[string]bool{},
		stats:    stats{s: newStats()},
		ln:       localsvc.Listener{Name: "emulator"},
	}
	for _, p := range opts.Projects {
		if p == "" || strings.Contains(p, "/") {
			return nil, fmt.Errorf("invalid project id %q", p)
		}
		s.projects[p] = newProject()
	}
	byProject := map[string][]*key{}
	seen := make(map[[2]string]bool, len(opts.Seed))
	for i, sk := range opts.Seed {
		p := sk.ProjectID
		if p == "" {
			p = opts.Projects[0]
		}
		if _, ok := s.projects[p]; !ok {
			return nil, fmt.Errorf("seed key %d (%s): project %q is not served", i, sk.ResourceID, p)
		}
		if err := validateSeedKey(sk); err != nil {
			return nil, fmt.Errorf("seed key %d (%s): %w", i, sk.ResourceID, err)
		}
		id := [2]string{p, sk.ResourceID}
		if seen[id] {
			return nil, fmt.Errorf("seed key %d (%s): listed twice in project %s", i, sk.ResourceID, p)
		}
		seen[id] = true
		if len(sk.Tags) > opts.MaxTags {
			return nil, fmt.Errorf("seed key %d (%s): %d tags, more than %d", i, sk.ResourceID, len(sk.Tags), opts.MaxTags)
		}
		byProject[p] = append(byProject[p], normalize(sk, DefaultRealm, DefaultDomain))
	}
	for p, ks := range byProject {
		s.projects[p].appendSorted(ks)
	}
	s.faults.Store(newFaultState(Faults{}))
	return s, nil
}

// Listen serves on addr (empty: "127.0.0.1:0", a free loopback port) and
// returns the base URL to give the SDK as endpoint, e.g. http://127.0.0.1:40123.
func (s *Server) Listen(addr string) (string, error) { return s.ln.Listen(addr, s) }

// Close stops a server started with Listen, closing open connections.
func (s *Server) Close() error { return s.ln.Close() }

// Keys returns the keys of a project ("" = the first) with their tags, sorted by id.
func (s *Server) Keys(projectID string) []SeedKey {
	projectID = s.projectOrDefault(projectID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projects[projectID]
	if p == nil {
		return nil
	}
	out := make([]SeedKey, 0, len(p.keys))
	for _, k := range p.keys {
		out = append(out, k.seedKey(projectID))
	}
	slices.SortFunc(out, func(a, b SeedKey) int { return strings.Compare(a.ResourceID, b.ResourceID) })
	return out
}

// Tags returns a key's current tags; false if the key does not exist.
func (s *Server) Tags(projectID, keyID string) (map[string]string, bool) {
	projectID = s.projectOrDefault(projectID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projects[projectID]
	if p == nil {
		return nil, false
	}
	k, ok := p.byID[keyID]
	if !ok {
		return nil, false
	}
	return k.tagMap(), true
}

// AddKey adds or replaces a key, as a CreateKey outside the API would
// (projectID "" = the first; an unknown project is created). It does not
// check the tag rules, so tests can plant states the API would refuse; a key
// with no id is ignored.
func (s *Server) AddKey(projectID string, k SeedKey) {
	projectID = s.projectOrDefault(projectID)
	if k.ResourceID == "" {
		k.ResourceID = k.ResourceDetail.KeyID
	}
	if k.ResourceID == "" {
		return
	}
	stored := normalize(k, DefaultRealm, DefaultDomain)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		p = newProject()
		s.projects[projectID] = p
	}
	p.put(stored)
}

// DeleteKey removes a key, as if it were deleted behind the caller's back.
func (s *Server) DeleteKey(projectID, keyID string) {
	projectID = s.projectOrDefault(projectID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		if k, ok := p.byID[keyID]; ok {
			p.remove(k)
		}
	}
}

// HideFromBulk leaves these keys (in any project) out of
// resource_instances/action; they still appear in list-keys.
func (s *Server) HideFromBulk(keyIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range keyIDs {
		s.hidden[id] = true
	}
}

func (s *Server) projectOrDefault(p string) string {
	if p == "" {
		return s.opts.Projects[0]
	}
	return p
}

// route is a parsed API path.
type route struct {
	api     string
	project string
	keyID   string
}

func parseRoute(method, path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/v1.0/")
	if !ok {
		return route{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || parts[0] == "" || parts[1] != "kms" {
		return route{}, false
	}
	r := route{project: parts[0]}
	p := parts[2:]
	switch {
	case len(p) == 1 && p[0] == "list-keys" && method == http.MethodPost:
		r.api = APIListKeys
	case len(p) == 1 && p[0] == "describe-key" && method == http.MethodPost:
		r.api = APIDescribeKey
	case len(p) == 2 && p[0] == "resource_instances" && p[1] == "action" && method == http.MethodPost:
		r.api = APIResourceInstances
	case len(p) == 2 && p[0] != "" && p[1] == "tags" && method == http.MethodGet:
		r.api, r.keyID = APIShowTags, p[0]
	case len(p) == 3 && p[0] != "" && p[1] == "tags" && p[2] == "action" && method == http.MethodPost:
		r.api, r.keyID = APITagsAction, p[0]
	default:
		return route{}, false
	}
	return r, true
}

// reply is an answer: a status and a JSON body (nil: none).
type reply struct {
	status int
	body   any
}

func (s *Server) requestID() string { return s.reqIDs.Next() }

// kmsErr is the KMS service's nested error body.
func kmsErr(status int, code, msg string) reply {
	return reply{status, map[string]map[string]string{"error": {"error_code": code, "error_msg": msg}}}
}

// gatewayErr is the API gateway's flat body (nested with DocumentedShapes).
func (s *Server) gatewayErr(status int, code, msg, reqID string) reply {
	if s.opts.DocumentedShapes {
		return kmsErr(status, code, msg)
	}
	return reply{status, map[string]string{"error_msg": msg, "error_code": code, "request_id": reqID}}
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	rt, ok := parseRoute(r.Method, r.URL.Path)
	if !ok {
		s.write(w, "", reqID, s.gatewayErr(http.StatusNotFound, "APIGW.0101",
			"The API does not exist or has not been published in the environment", reqID))
		return
	}
	fs := s.faults.Load()
	if !localsvc.Delay(r.Context(), fs.f.Latency) {
		s.stats.record(rt.api, 0)
		return
	}
	outcome := fs.draw()
	if outcome == -1 {
		if !localsvc.DropConn(w, func() { s.stats.record(rt.api, 0) }) {
			// The writer cannot be hijacked (httptest.ResponseRecorder).
			s.write(w, rt.api, reqID, injected(502))
		}
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.write(w, rt.api, reqID, kmsErr(http.StatusBadRequest, "KMS.0202", "request body is unreadable or larger than 1 MiB"))
		return
	}
	if fs.f.Unauthorized {
		s.write(w, rt.api, reqID, s.gatewayErr(http.StatusUnauthorized, "APIGW.0301",
			"Incorrect IAM authentication information: Unauthorized", reqID))
		return
	}
	if aerr := s.verify(r, body, s.opts.Now()); aerr != nil {
		s.write(w, rt.api, reqID, s.gatewayErr(http.StatusUnauthorized, "APIGW.0301",
			"Incorrect IAM authentication information: "+aerr.reason, reqID))
		return
	}
	if hp := r.Header.Get(headerProject); hp != "" && hp != rt.project {
		s.write(w, rt.api, reqID, s.gatewayErr(http.StatusForbidden, "APIGW.0302",
			"The project id in the path does not match the X-Project-Id header", reqID))
		return
	}
	if ok, msg := fs.admit(time.Now()); !ok {
		s.write(w, rt.api, reqID, s.gatewayErr(http.StatusTooManyRequests, "APIG.0308", msg, reqID))
		return
	}
	if status := fs.next(); status != 0 {
		s.write(w, rt.api, reqID, s.failKey(status, rt.keyID, reqID))
		return
	}
	if outcome > 0 {
		s.write(w, rt.api, reqID, injected(outcome))
		return
	}
	s.mu.RLock()
	_, known := s.projects[rt.project]
	s.mu.RUnlock()
	if !known {
		s.write(w, rt.api, reqID, s.gatewayErr(http.StatusForbidden, "APIGW.0302",
			"The project "+rt.project+" does not belong to this account", reqID))
		return
	}
	if r.Context().Err() != nil {
		// The client is gone (its deadline cut the call): like a service
		// that has not started the call, serve nothing, so that a write a
		// caller gave up on does not land behind its back, later than the
		// caller's next read.
		s.stats.record(rt.api, 0)
		return
	}
	s.write(w, rt.api, reqID, s.dispatch(rt, body, fs, reqID))
}

func injected(status int) reply {
	switch status {
	case 500:
		return kmsErr(500, "KMS.0500", "Internal server error (injected)")
	case 502:
		return kmsErr(502, "KMS.0502", "Bad gateway (injected)")
	default:
		return kmsErr(504, "KMS.0504", "Gateway timeout (injected)")
	}
}

// failKey answers a FailKeys status with a body that fits it.
func (s *Server) failKey(status int, keyID, reqID string) reply {
	switch status {
	case 401:
		return s.gatewayErr(401, "APIGW.0301", "Incorrect IAM authentication information: Unauthorized", reqID)
	case 403:
		return kmsErr(403, "KMS.0303", "No permission for key "+keyID+" (injected)")
	case 404:
		return kmsErr(404, "KMS.0207", "The key "+keyID+" does not exist (injected)")
	case 429:
		return s.gatewayErr(429, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second", reqID)
	case 500, 502, 504:
		return injected(status)
	}
	if status >= 400 && status < 500 {
		return kmsErr(status, "KMS.0308", "Request on key "+keyID+" refused (injected)")
	}
	return kmsErr(status, "KMS.0500", "Failure on key "+keyID+" (injected)")
}

func (s *Server) write(w http.ResponseWriter, api, reqID string, rp reply) {
	s.stats.record(api, rp.status)
	h := w.Header()
	h.Set("X-Request-Id", reqID)
	if rp.body == nil {
		w.WriteHeader(rp.status)
		return
	}
	data, err := json.Marshal(rp.body)
	if err != nil {
		// Unreachable: every body is made of strings, numbers, slices and maps.
		data = []byte(`{"error":{"error_code":"KMS.0500","error_msg":"encode response"}}`)
		rp.status = http.StatusInternalServerError
	}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(rp.status)
	w.Write(data) //nolint:errcheck // the client may be gone
}
