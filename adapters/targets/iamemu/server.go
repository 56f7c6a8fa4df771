package iamemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Defaults of Options.
const (
	// DefaultDomainID is the account (domain) id served by default: the
	// KMS emulator's domain, so that both describe one account.
	DefaultDomainID = emulator.DefaultDomain
	// DefaultDomainName is the account name served by default.
	DefaultDomainName = "tagwarden-emulator"
	// DefaultMOSProjectID is the id of the MOS project of DefaultProjects.
	DefaultMOSProjectID = "0c5e8a1f2b3d4c6e8f9a0b1c2d3e4f5a"
	maxBody             = 1 << 20
)

// API names counted by Calls.
const (
	APIListAuthProjects = "KeystoneListAuthProjects" // GET /v3/auth/projects
	APIListAuthDomains  = "KeystoneListAuthDomains"  // GET /v3/auth/domains
)

// Project is a project the identity can reach.
type Project struct {
	// ID is the project id (required, unique).
	ID string
	// Name is a region id ("ap-southeast-1"), a sub-project
	// "<region>_<name>", or a special name such as MOS (required, unique).
	Name string
	// Enabled is the project's status.
	Enabled bool
	// Description is served as is.
	Description string
}

// DefaultProjects is what a zero Options serves: the KMS emulator's
// project as ap-southeast-1's, and the MOS project every account lists.
func DefaultProjects() []Project {
	return []Project{
		{ID: emulator.DefaultProject, Name: emulator.DefaultRealm, Enabled: true},
		{ID: DefaultMOSProjectID, Name: "MOS", Enabled: true},
	}
}

// Options configure a Server. The zero value serves DefaultProjects to
// emulator.DefaultAK/DefaultSK in DefaultDomainID.
type Options struct {
	// Projects served (nil: DefaultProjects; empty non-nil: none).
	Projects []Project
	// DomainID and DomainName are the account's (defaults DefaultDomainID,
	// DefaultDomainName).
	DomainID, DomainName string
	// AccessKey and SecretKey verify signatures (defaults
	// emulator.DefaultAK and emulator.DefaultSK).
	AccessKey, SecretKey string
	// SecurityToken, when set, must be sent and signed as
	// X-Security-Token, as with temporary credentials; when empty a
	// request carrying one is refused.
	SecurityToken string
	// Deny answers every authenticated call 403 IAM.0002, as for an
	// identity an explicit deny refuses.
	Deny bool
	// NoDomains answers GET /v3/auth/domains with an empty list, as the
	// SDK expects for an identity without iam:users:getUser.
	NoDomains bool
	// Now is the clock for signature freshness (nil: time.Now).
	Now func() time.Time
}

// Calls counts the calls a Server answered.
type Calls struct {
	// Projects and Domains count the calls to each API, whatever the answer.
	Projects, Domains int
	// Unauthorized, Denied and NotFound count the 401, 403 and 404 answers.
	Unauthorized, Denied, NotFound int
}

// Server is a local IAM serving the two calls of project discovery. It is
// an http.Handler; Listen serves it on a loopback port. Its methods are
// safe for concurrent use.
type Server struct {
	opts   Options
	reqIDs localsvc.RequestIDs
	ln     localsvc.Listener

	mu    sync.Mutex
	calls Calls
}

// New checks opts and builds a Server: every project needs an id and a
// name, neither used twice.
func New(opts Options) (*Server, error) {
	if opts.Projects == nil {
		opts.Projects = DefaultProjects()
	}
	if opts.DomainID == "" {
		opts.DomainID = DefaultDomainID
	}
	if opts.DomainName == "" {
		opts.DomainName = DefaultDomainName
	}
	if opts.AccessKey == "" {
		opts.AccessKey = emulator.DefaultAK
	}
	if opts.SecretKey == "" {
		opts.SecretKey = emulator.DefaultSK
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for i, p := range opts.Projects {
		switch {
		case p.ID == "" || strings.ContainsAny(p.ID, "/?#"):
			return nil, fmt.Errorf("project %d (%s): invalid id %q", i, p.Name, p.ID)
		case p.Name == "":
			return nil, fmt.Errorf("project %d (%s): no name", i, p.ID)
		case ids[p.ID]:
			return nil, fmt.Errorf("project %d: id %s is listed twice", i, p.ID)
		case names[p.Name]:
			return nil, fmt.Errorf("project %d: name %s is listed twice", i, p.Name)
		}
		ids[p.ID], names[p.Name] = true, true
	}
	opts.Projects = slices.Clone(opts.Projects)
	return &Server{opts: opts, ln: localsvc.Listener{Name: "iam emulator"}}, nil
}

// Listen serves on addr (empty: "127.0.0.1:0", a free loopback port) and
// returns the base URL to give the SDK as IAM endpoint, e.g.
// http://127.0.0.1:40123 (URL returns it too).
func (s *Server) Listen(addr string) (string, error) { return s.ln.Listen(addr, s) }

// URL returns the base URL Listen serves on ("" when not listening).
func (s *Server) URL() string { return s.ln.URL() }

// Close stops a server started with Listen, closing open connections.
func (s *Server) Close() error { return s.ln.Close() }

// Calls returns the counts of the calls answered so far.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// ResetCalls zeroes the counts.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = Calls{}
}

// reply is a status and a JSON body.
type reply struct {
	status int
	body   any
}

// gatewayErr is the API gateway's flat body, as the KMS emulator answers.
func gatewayErr(status int, code, msg, reqID string) reply {
	return reply{status, localsvc.Gateway(code, msg, reqID)}
}

// iamErr is IAM's own flat body (error_msg, error_code).
func iamErr(status int, code, msg string) reply {
	return reply{status, map[string]string{"error_msg": msg, "error_code": code}}
}

// ServeHTTP answers one call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.reqIDs.Next()
	var api string
	if r.Method == http.MethodGet {
		switch r.URL.Path {
		case "/v3/auth/projects":
			api = APIListAuthProjects
		case "/v3/auth/domains":
			api = APIListAuthDomains
		}
	}
	if api == "" {
		s.write(w, "", reqID, gatewayErr(http.StatusNotFound, localsvc.NoAPICode, localsvc.NoAPIMessage, reqID))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.write(w, api, reqID, iamErr(http.StatusBadRequest, "IAM.0011", "Request body is invalid."))
		return
	}
	signer := emulator.Signer{AccessKey: s.opts.AccessKey, SecretKey: s.opts.SecretKey, SecurityToken: s.opts.SecurityToken}
	if err := emulator.VerifySignature(r, body, signer, s.opts.Now()); err != nil {
		s.write(w, api, reqID, unauthorized(err.Error(), reqID))
		return
	}
	if reason := s.checkDomain(r, api); reason != "" {
		s.write(w, api, reqID, unauthorized(reason, reqID))
		return
	}
	if s.opts.Deny {
		s.write(w, api, reqID, iamErr(http.StatusForbidden, "IAM.0002", "You are not authorized to perform the requested action."))
		return
	}
	base := "http://" + r.Host
	if api == APIListAuthDomains {
		s.write(w, api, reqID, reply{http.StatusOK, s.domains(base)})
		return
	}
	s.write(w, api, reqID, reply{http.StatusOK, s.projects(base)})
}

func unauthorized(reason, reqID string) reply {
	return gatewayErr(http.StatusUnauthorized, localsvc.AuthCode, localsvc.AuthMessage+reason, reqID)
}

// checkDomain checks X-Domain-Id: signed and the account's when sent, and
// sent for the projects (IAM is a global service: AK/SK calls to it carry
// the account id). It returns why not, "" when fine.
func (s *Server) checkDomain(r *http.Request, api string) string {
	d := r.Header.Get("X-Domain-Id")
	switch {
	case d == "" && api == APIListAuthProjects:
		return "X-Domain-Id is missing: a global service needs the account id"
	case d == "":
		return ""
	case !slices.Contains(localsvc.SignedHeaders(r), "x-domain-id"):
		return "X-Domain-Id is not signed"
	case d != s.opts.DomainID:
		return "X-Domain-Id is not the account of the access key"
	}
	return ""
}

type link struct {
	Self string `json:"self"`
}

type projectJSON struct {
	DomainID    string `json:"domain_id"`
	IsDomain    bool   `json:"is_domain"`
	ParentID    string `json:"parent_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Links       link   `json:"links"`
	ID          string `json:"id"`
	Enabled     bool   `json:"enabled"`
}

type domainJSON struct {
	Enabled     bool   `json:"enabled"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Links       link   `json:"links"`
	Description string `json:"description"`
}

// projects is the KeystoneListAuthProjects answer. parent_id is the
// account id for a region's project and the region project's id for a
// sub-project (the API reference's rule).
func (s *Server) projects(base string) any {
	byName := make(map[string]string, len(s.opts.Projects))
	for _, p := range s.opts.Projects {
		byName[p.Name] = p.ID
	}
	out := make([]projectJSON, 0, len(s.opts.Projects))
	for _, p := range s.opts.Projects {
		parent := s.opts.DomainID
		if region, _, sub := strings.Cut(p.Name, "_"); sub && byName[region] != "" {
			parent = byName[region]
		}
		out = append(out, projectJSON{
			DomainID: s.opts.DomainID, ParentID: parent, Name: p.Name, Description: p.Description,
			Links: link{base + "/v3/projects/" + p.ID}, ID: p.ID, Enabled: p.Enabled,
		})
	}
	return map[string]any{"links": link{base + "/v3/auth/projects"}, "projects": out}
}

// domains is the KeystoneListAuthDomains answer.
func (s *Server) domains(base string) any {
	ds := []domainJSON{}
	if !s.opts.NoDomains {
		ds = append(ds, domainJSON{Enabled: true, ID: s.opts.DomainID, Name: s.opts.DomainName,
			Links: link{base + "/v3/domains/" + s.opts.DomainID}})
	}
	return map[string]any{"domains": ds, "links": link{base + "/v3/auth/domains"}}
}

func (s *Server) write(w http.ResponseWriter, api, reqID string, rp reply) {
	s.record(api, rp.status)
	h := w.Header()
	h.Set("X-Request-Id", reqID)
	h.Set("X-IAM-Trace-Id", reqID)
	data, err := json.Marshal(rp.body)
	if err != nil {
		// Unreachable: every body is made of strings, booleans, slices and maps.
		data, rp.status = []byte(`{"error_msg":"encode response","error_code":"IAM.0006"}`), http.StatusInternalServerError
	}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(rp.status)
	w.Write(data) //nolint:errcheck // the client may be gone
}

func (s *Server) record(api string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch api {
	case APIListAuthProjects:
		s.calls.Projects++
	case APIListAuthDomains:
		s.calls.Domains++
	}
	switch status {
	case http.StatusUnauthorized:
		s.calls.Unauthorized++
	case http.StatusForbidden:
		s.calls.Denied++
	case http.StatusNotFound:
		s.calls.NotFound++
	}
}
