package cesemu

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Defaults of Options: the KMS emulator's, so that one account's
// credentials reach both.
const (
	DefaultProject = emulator.DefaultProject
	DefaultAK      = emulator.DefaultAK
	DefaultSK      = emulator.DefaultSK
	// readLimit bounds what the server reads of a body before refusing it
	// (413, as a gateway does); bodies up to it are read whole, so that a
	// body over MaxBodyBytes is still authenticated before it is refused.
	readLimit = 8 << 20
)

// CES error codes the emulator answers [ERR].
const (
	CodeEmpty        = "ces.0001" // 400 The content must be specified.
	CodeBadProject   = "ces.0003" // 400 The tenant ID is left blank or incorrect.
	CodeInternal     = "ces.0007" // 500 Internal service error.
	CodeSystemMetric = "ces.0009" // 403 Adding SYS metric is not allowed
	CodeInvalid      = "ces.0011" // 400 The request is invalid.
	CodeBadBody      = "ces.0014" // 400 Some content in message body is not correct.
	CodeAuth         = "ces.0015" // 401 Authentication fails ...
	CodeNotFound     = "ces.0016" // 404 The requested resource does not exist.
	CodeForbidden    = "ces.0017" // 403 ... does not have sufficient rights.
)

// Gateway error codes (the API gateway in front of every service), in the
// flat body {"error_msg","error_code","request_id"} the KMS emulator
// answers too.
const (
	GatewayNoAPI      = "APIGW.0101" // 404 the API does not exist
	GatewayTooLarge   = "APIG.0201"  // 413 request entity too large
	GatewayAuth       = "APIGW.0301" // 401 Incorrect IAM authentication information
	GatewayForbidden  = "APIGW.0302" // 403 the project is not the account's
	GatewayThrottling = "APIG.0308"  // 429 throttling threshold reached
)

// The gateway's codes and statuses for calling APIs are APIG's list:
// https://support.huaweicloud.com/intl/en-us/usermanual-apig/apig-ug-180530090.html
// (APIG.0101 404, APIG.0201 413 "Request entity too large", APIG.0308
// 429); APIGW.0301 and APIGW.0302 are the signing guide's, as the KMS
// emulator answers them.

// Options configure a Server. The zero value serves DefaultProject to
// DefaultAK/DefaultSK with no item limit.
type Options struct {
	// Projects served (empty: DefaultProject); each matches
	// ^[A-Za-z0-9-]{1,64}$.
	Projects []string
	// AccessKey and SecretKey verify signatures (empty: DefaultAK/DefaultSK).
	AccessKey, SecretKey string
	// SecurityToken, when set, must be sent (and signed) as
	// X-Security-Token, as with temporary credentials; when empty a
	// request carrying one is refused.
	SecurityToken string
	// MaxItems, when positive, bounds the items of one request (400
	// ces.0014 past it). The API documents no such limit, only the body
	// size: 0 checks none.
	MaxItems int
	// Now is the clock for signatures and collect_time (nil: time.Now).
	Now func() time.Time
}

// Dimension is one dimension of a stored point.
type Dimension struct {
	Name, Value string
}

// Point is one stored data point, as the request gave it.
type Point struct {
	Project    string
	Namespace  string
	Metric     string
	Dimensions []Dimension
	Value      float64
	// Type is the request's type: "int", "float" or "" (not sent).
	Type string
	Unit string
	// CollectTime is collect_time (milliseconds), in UTC.
	CollectTime time.Time
	// TTL is the ttl in seconds.
	TTL int
	// Received is when the server stored it (Options.Now).
	Received time.Time
}

// Calls counts the calls the server answered.
type Calls struct {
	// Total counts every call, whatever the answer.
	Total int
	// Status counts the answers by HTTP status; 0 counts calls that got
	// none (a dropped connection, a client gone before the answer).
	Status map[int]int
	// Bodies are the body sizes of the calls that reached the metric-data
	// API and were read, in order.
	Bodies []int
}

// Server is a local Cloud Eye serving POST /V1.0/{project_id}/metric-data.
// It is an http.Handler; Listen serves it on a loopback port. Its methods
// are safe for concurrent use.
type Server struct {
	opts     Options
	projects map[string]bool
	reqIDs   localsvc.RequestIDs
	faults   localsvc.Injector
	ln       localsvc.Listener

	mu     sync.Mutex
	points []Point
	calls  Calls
}

// New checks opts and builds a Server.
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxItems < 0 {
		return nil, fmt.Errorf("cesemu: MaxItems %d is negative", opts.MaxItems)
	}
	s := &Server{opts: opts, projects: map[string]bool{}, calls: Calls{Status: map[int]int{}},
		ln: localsvc.Listener{Name: "cesemu"}}
	for _, p := range opts.Projects {
		if !projectRE.MatchString(p) {
			return nil, fmt.Errorf("cesemu: invalid project id %q", p)
		}
		s.projects[p] = true
	}
	s.opts.Projects = slices.Clone(opts.Projects)
	return s, nil
}

// Listen serves on addr (empty: "127.0.0.1:0", a free loopback port) and
// returns the base URL to give the SDK as the CES endpoint, e.g.
// http://127.0.0.1:40123 (URL returns it again).
func (s *Server) Listen(addr string) (string, error) { return s.ln.Listen(addr, s) }

// URL returns the base URL Listen serves on ("" when not listening).
func (s *Server) URL() string { return s.ln.URL() }

// Close stops a server started with Listen, closing open connections.
func (s *Server) Close() error { return s.ln.Close() }

// Points returns the stored points in the order received.
func (s *Server) Points() []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Point, len(s.points))
	for i, p := range s.points {
		p.Dimensions = slices.Clone(p.Dimensions)
		out[i] = p
	}
	return out
}

// Calls returns the counts of the calls answered so far.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Calls{Total: s.calls.Total, Status: make(map[int]int, len(s.calls.Status)), Bodies: slices.Clone(s.calls.Bodies)}
	for k, v := range s.calls.Status {
		out.Status[k] = v
	}
	return out
}

// Reset forgets the stored points and zeroes the counts.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points = nil
	s.calls = Calls{Status: map[int]int{}}
}

// reply is an answer: a status and a JSON body (nil: none).
type reply struct {
	status int
	body   any
}

// cesBody is Cloud Eye's error body [ERR]:
//
//	{"code":400,"element":"Bad Request","message":"The system received a
//	 request which cannot be recognized","details":{"details":"Some content
//	 in message body is not correct","code":"ces.0014"}}
type cesBody struct {
	Code    int        `json:"code"`
	Element string     `json:"element"`
	Message string     `json:"message"`
	Details cesDetails `json:"details"`
}

type cesDetails struct {
	Details string `json:"details"`
	Code    string `json:"code"`
}

// cesErr is a Cloud Eye error answer; details says what was wrong.
func cesErr(status int, code, details string) reply {
	msg := http.StatusText(status)
	if status == http.StatusBadRequest {
		msg = "The system received a request which cannot be recognized" // [ERR]'s example
	}
	return reply{status, cesBody{Code: status, Element: http.StatusText(status), Message: msg,
		Details: cesDetails{Details: details, Code: code}}}
}

// gatewayErr is the API gateway's flat body.
func gatewayErr(status int, code, msg, reqID string) reply {
	return reply{status, localsvc.Gateway(code, msg, reqID)}
}

func unauthorized(reason, reqID string) reply {
	return gatewayErr(http.StatusUnauthorized, GatewayAuth, localsvc.AuthMessage+reason, reqID)
}

// route returns the project of POST /V1.0/{project_id}/metric-data, or
// false for any other method or path.
func route(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/V1.0/")
	if !ok {
		return "", false
	}
	project, tail, ok := strings.Cut(rest, "/")
	if !ok || tail != "metric-data" {
		return "", false
	}
	return project, true
}

// ServeHTTP answers one call. The order of the checks: route (404
// APIGW.0101), body read (413 past 8 MiB; read first, so that a client
// that goes away is seen), injected latency, injected drop, injected 401, signature (401 APIGW.0301), project syntax (400
// ces.0003), X-Project-Id and served project (403 APIGW.0302), Sequence,
// injected 500, Content-Type (400 ces.0011), body (400 ces.0001/ces.0014,
// 403 ces.0009), the client still there, store (201, no body).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.reqIDs.Next()
	project, ok := route(r)
	if !ok {
		s.write(w, reqID, gatewayErr(http.StatusNotFound, GatewayNoAPI, localsvc.NoAPIMessage, reqID))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, readLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.write(w, reqID, gatewayErr(http.StatusRequestEntityTooLarge, GatewayTooLarge, "Request entity too large", reqID))
			return
		}
		s.write(w, reqID, cesErr(http.StatusBadRequest, CodeInvalid, "The request is invalid: the body could not be read"))
		return
	}
	s.recordBody(len(body))
	fs := s.faults.Load()
	if !localsvc.Delay(r.Context(), fs.Latency) {
		s.record(0)
		return
	}
	outcome := fs.Draw()
	if outcome == localsvc.Drop {
		if localsvc.DropConn(w, func() { s.record(0) }) {
			return
		}
		// The writer cannot be hijacked (httptest.ResponseRecorder).
		outcome = http.StatusBadGateway
	}
	if fs.Unauthorized {
		s.write(w, reqID, unauthorized("Unauthorized", reqID))
		return
	}
	now := s.opts.Now()
	signer := emulator.Signer{AccessKey: s.opts.AccessKey, SecretKey: s.opts.SecretKey, SecurityToken: s.opts.SecurityToken}
	if err := emulator.VerifySignature(r, body, signer, now); err != nil {
		s.write(w, reqID, unauthorized(err.Error(), reqID))
		return
	}
	if !projectRE.MatchString(project) {
		s.write(w, reqID, cesErr(http.StatusBadRequest, CodeBadProject, "The tenant ID is left blank or incorrect."))
		return
	}
	if hp := r.Header.Get("X-Project-Id"); hp != "" && hp != project {
		s.write(w, reqID, gatewayErr(http.StatusForbidden, GatewayForbidden,
			"The project id in the path does not match the X-Project-Id header", reqID))
		return
	}
	if !s.projects[project] {
		s.write(w, reqID, gatewayErr(http.StatusForbidden, GatewayForbidden,
			"The project "+project+" does not belong to this account", reqID))
		return
	}
	if st := fs.Next(); st != 0 {
		s.write(w, reqID, injected(st, reqID))
		return
	}
	if outcome != 0 {
		s.write(w, reqID, injected(outcome, reqID))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.write(w, reqID, cesErr(http.StatusBadRequest, CodeInvalid, "The request is invalid: Content-Type must be application/json"))
		return
	}
	pts, rf := decode(body, now, s.opts.MaxItems)
	if rf != nil {
		s.write(w, reqID, cesErr(rf.status, rf.code, rf.reason))
		return
	}
	if r.Context().Err() != nil {
		// The client is gone (its deadline cut the call): store nothing,
		// so that data a caller gave up on does not land behind its back.
		s.record(0)
		return
	}
	s.mu.Lock()
	for i := range pts {
		pts[i].Project, pts[i].Received = project, now
	}
	s.points = append(s.points, pts...)
	s.mu.Unlock()
	s.write(w, reqID, reply{status: http.StatusCreated})
}

// injected is the answer to an injected status: the gateway's body for
// 401, 429, 502 and 504, Cloud Eye's for the others.
func injected(status int, reqID string) reply {
	switch status {
	case 401:
		return unauthorized("Unauthorized (injected)", reqID)
	case 429:
		return gatewayErr(429, GatewayThrottling,
			"The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second", reqID)
	case 502:
		return gatewayErr(502, "APIG.0202", "Backend unavailable (injected)", reqID)
	case 504:
		return gatewayErr(504, "APIG.0203", "Backend timeout (injected)", reqID)
	case 400:
		return cesErr(400, CodeBadBody, "Some content in message body is not correct (injected)")
	case 403:
		return cesErr(403, CodeForbidden, "The authentication information is incorrect or the service invoker does not have sufficient rights. (injected)")
	case 404:
		return cesErr(404, CodeNotFound, "The requested resource does not exist. (injected)")
	}
	if status >= 500 {
		return cesErr(status, CodeInternal, "Internal service error. (injected)")
	}
	return cesErr(status, CodeInvalid, "The request is invalid. (injected)")
}

func (s *Server) record(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Total++
	s.calls.Status[status]++
}

func (s *Server) recordBody(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Bodies = append(s.calls.Bodies, n)
}

func (s *Server) write(w http.ResponseWriter, reqID string, rp reply) {
	s.record(rp.status)
	w.Header().Set("X-Request-Id", reqID)
	if rp.body == nil {
		w.WriteHeader(rp.status)
		return
	}
	// The fallback is unreachable: every body is made of strings, numbers
	// and maps.
	localsvc.WriteJSON(w, rp.status, rp.body,
		`{"code":500,"element":"Internal Server Error","message":"encode response","details":{"details":"encode response","code":"ces.0007"}}`)
}
