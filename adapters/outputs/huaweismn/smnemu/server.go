package smnemu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Defaults of Options.
const (
	// DefaultProject is the project of DefaultTopic: the KMS emulator's,
	// so that the local services describe one account.
	DefaultProject = emulator.DefaultProject
	// DefaultRegion is DefaultTopic's region (the KMS emulator's realm).
	DefaultRegion = emulator.DefaultRealm
	// DefaultTopic is what a zero Options serves.
	DefaultTopic = "urn:smn:" + DefaultRegion + ":" + DefaultProject + ":tagwarden-notifications"
	// maxBody bounds a request body: room for a 256 KB message that JSON
	// escapes (\u00XX is six bytes for one), with its attributes.
	maxBody = 2 << 20
)

// API names counted by Calls.
const (
	// APIPublish is PublishMessage: POST
	// /v2/{project_id}/notifications/topics/{topic_urn}/publish.
	APIPublish = "PublishMessage"
)

// Options configure a Server. The zero value serves DefaultTopic to
// emulator.DefaultAK/DefaultSK, permanent credentials.
type Options struct {
	// Topics are the URNs of the topics served (nil: DefaultTopic). A
	// project is served when one of its topics is.
	Topics []string
	// Deny lists topics (among Topics) whose publish is refused 403
	// SMN.00308, as a topic policy or an IAM policy denying
	// smn:topic:publish would.
	Deny []string
	// AccessKey and SecretKey verify signatures (defaults
	// emulator.DefaultAK and emulator.DefaultSK).
	AccessKey, SecretKey string
	// SecurityToken, when set, must be sent and signed as
	// X-Security-Token, as with temporary credentials; when empty a
	// request carrying one is refused.
	SecurityToken string
	// LiveNotFound answers a topic that does not exist as the live v2 API
	// answers a missing topic on other topic calls: 400 with the gateway
	// shape {"error_code":"SMN.00010008","error_msg","request_id"}
	// (inferred from terraform-provider-huaweicloud, which converts that
	// answer to a 404). False (the default) answers as the API reference
	// documents: 404 {"request_id","code":"SMN.0006","message":"Topic not
	// found."}.
	LiveNotFound bool
	// MaxAttributes bounds the message_attributes of one message (0:
	// DefaultMaxAttributes).
	MaxAttributes int
	// Now is the clock for signature freshness and the times recorded
	// (nil: time.Now).
	Now func() time.Time
}

// Attribute is one message attribute as it was published: for STRING, one
// value.
type Attribute struct {
	Name   string
	Type   string
	Values []string
}

// Published is one message the server accepted.
type Published struct {
	Topic     string
	MessageID string
	Subject   string
	Message   string
	// MessageStructure is the message_structure sent, if any.
	MessageStructure string
	Attributes       []Attribute
	// TimeToLive is time_to_live as sent ("" when absent).
	TimeToLive string
	Time       time.Time
}

// Calls counts what the server answered.
type Calls struct {
	// Requests counts every request, unknown APIs included.
	Requests int
	// Publish counts PublishMessage requests, whatever the answer.
	Publish int
	// Status counts answers by HTTP status; 0 counts connections dropped
	// and requests whose client left before the answer.
	Status map[int]int
}

// Server is a local SMN serving PublishMessage. It is an http.Handler;
// Listen serves it on a loopback port. Its methods are safe for concurrent
// use.
type Server struct {
	opts     Options
	topics   map[string]bool
	projects map[string]bool
	deny     map[string]bool
	faults   localsvc.Injector
	reqIDs   localsvc.RequestIDs
	ln       localsvc.Listener

	mu        sync.Mutex
	calls     Calls
	published []Published
}

// New checks opts and builds a Server: every topic must be a well-formed
// topic URN, listed once; every denied topic must be served.
func New(opts Options) (*Server, error) {
	if opts.Topics == nil {
		opts.Topics = []string{DefaultTopic}
	}
	if opts.AccessKey == "" {
		opts.AccessKey = emulator.DefaultAK
	}
	if opts.SecretKey == "" {
		opts.SecretKey = emulator.DefaultSK
	}
	if opts.MaxAttributes <= 0 {
		opts.MaxAttributes = DefaultMaxAttributes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, topics: map[string]bool{}, projects: map[string]bool{}, deny: map[string]bool{},
		ln: localsvc.Listener{Name: "smn emulator"}}
	for i, t := range opts.Topics {
		u, ok := parseURN(t)
		if !ok {
			return nil, fmt.Errorf("topic %d is not a topic URN urn:smn:{region}:{project_id}:{name}", i)
		}
		if s.topics[t] {
			return nil, fmt.Errorf("topic %d is listed twice", i)
		}
		s.topics[t] = true
		s.projects[u.project] = true
	}
	for i, t := range opts.Deny {
		if !s.topics[t] {
			return nil, fmt.Errorf("denied topic %d is not served", i)
		}
		s.deny[t] = true
	}
	s.opts.Topics = slices.Clone(opts.Topics)
	s.calls.Status = map[int]int{}
	return s, nil
}

// Listen serves on addr (empty: "127.0.0.1:0", a free loopback port) and
// returns the base URL to give the SDK as endpoint, e.g.
// http://127.0.0.1:40123 (URL returns it too).
func (s *Server) Listen(addr string) (string, error) { return s.ln.Listen(addr, s) }

// URL returns the base URL Listen serves on ("" when not listening).
func (s *Server) URL() string { return s.ln.URL() }

// Close stops a server started with Listen, closing open connections.
func (s *Server) Close() error { return s.ln.Close() }

// Published returns the messages accepted so far, oldest first.
func (s *Server) Published() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Published, len(s.published))
	for i, p := range s.published {
		p.Attributes = slices.Clone(p.Attributes)
		for j := range p.Attributes {
			p.Attributes[j].Values = slices.Clone(p.Attributes[j].Values)
		}
		out[i] = p
	}
	return out
}

// Calls returns the counts so far.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	c.Status = make(map[int]int, len(s.calls.Status))
	for k, v := range s.calls.Status {
		c.Status[k] = v
	}
	return c
}

// Reset forgets the messages published and zeroes the counts.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = nil
	s.calls = Calls{Status: map[int]int{}}
}

// reply is a status and a JSON body.
type reply struct {
	status int
	body   any
}

// smnErr is SMN's documented error body (API reference, "Exception
// Response", https://support.huaweicloud.com/intl/en-us/api-smn/smn_api_63001.html):
// {"request_id","code","message"}.
func smnErr(status int, code, msg, reqID string) reply {
	return reply{status, map[string]string{"request_id": reqID, "code": code, "message": msg}}
}

// gatewayErr is the API gateway's flat body, as the KMS and IAM emulators
// answer: {"error_msg","error_code","request_id"}.
func gatewayErr(status int, code, msg, reqID string) reply {
	return reply{status, localsvc.Gateway(code, msg, reqID)}
}

func unauthorized(reason, reqID string) reply {
	return gatewayErr(http.StatusUnauthorized, localsvc.AuthCode, localsvc.AuthMessage+reason, reqID)
}

// route parses the one API served. It returns the path's project and topic
// URN, and false for any other path or method.
func route(r *http.Request) (project, topic string, ok bool) {
	if r.Method != http.MethodPost {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[0] == "" || parts[1] != "notifications" || parts[2] != "topics" || parts[3] == "" || parts[4] != "publish" {
		return "", "", false
	}
	return parts[0], parts[3], true
}

// ServeHTTP answers one call. The order of the checks: the route (the
// gateway's 404, before anything), the body's size, injected latency and
// drops, the signature (401), X-Project-Id, the injected Sequence and
// 500s, the project, then the topic (URN, existence, policy) and the body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.reqIDs.Next()
	project, topic, ok := route(r)
	if !ok {
		s.write(w, "", reqID, gatewayErr(http.StatusNotFound, localsvc.NoAPICode, localsvc.NoAPIMessage, reqID))
		return
	}
	// The body first: once it is read, the server watches the connection,
	// and r.Context() ends when the client leaves.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.write(w, APIPublish, reqID, smnErr(http.StatusBadRequest, codeBadRequest,
			"The request body is unreadable or larger than "+strconv.Itoa(maxBody)+" bytes.", reqID))
		return
	}
	fs := s.faults.Load()
	if !localsvc.Delay(r.Context(), fs.Latency) {
		s.record(APIPublish, 0)
		return
	}
	outcome := fs.Draw()
	if outcome == localsvc.Drop {
		if !localsvc.DropConn(w, func() { s.record(APIPublish, 0) }) {
			// The writer cannot be hijacked (httptest.ResponseRecorder).
			s.write(w, APIPublish, reqID, injected(http.StatusBadGateway, reqID))
		}
		return
	}
	if fs.Unauthorized {
		s.write(w, APIPublish, reqID, unauthorized("Unauthorized", reqID))
		return
	}
	signer := emulator.Signer{AccessKey: s.opts.AccessKey, SecretKey: s.opts.SecretKey, SecurityToken: s.opts.SecurityToken}
	if err := emulator.VerifySignature(r, body, signer, s.opts.Now()); err != nil {
		s.write(w, APIPublish, reqID, unauthorized(err.Error(), reqID))
		return
	}
	if reason := checkProjectHeader(r, project); reason != "" {
		s.write(w, APIPublish, reqID, gatewayErr(http.StatusForbidden, "APIGW.0302", reason, reqID))
		return
	}
	if status := fs.Next(); status != 0 {
		s.write(w, APIPublish, reqID, failure(status, reqID))
		return
	}
	if outcome > 0 {
		s.write(w, APIPublish, reqID, injected(outcome, reqID))
		return
	}
	if !s.projects[project] {
		s.write(w, APIPublish, reqID, gatewayErr(http.StatusForbidden, "APIGW.0302",
			"The project "+project+" does not belong to this account", reqID))
		return
	}
	if r.Context().Err() != nil {
		// The client is gone (its deadline cut the call): publish nothing,
		// so that a message the caller gave up on is not delivered behind
		// its back while it tries again.
		s.record(APIPublish, 0)
		return
	}
	s.write(w, APIPublish, reqID, s.publish(project, topic, body, reqID))
}

// checkProjectHeader checks X-Project-Id: the SDK sends it (signed) with
// the credentials' project, which must be the path's. It returns why not,
// "" when fine.
func checkProjectHeader(r *http.Request, project string) string {
	h := r.Header.Get("X-Project-Id")
	switch {
	case h == "":
		return ""
	case !slices.Contains(localsvc.SignedHeaders(r), "x-project-id"):
		return "X-Project-Id is not signed"
	case h != project:
		return "The project id in the path does not match the X-Project-Id header"
	}
	return ""
}

// publish serves an authenticated PublishMessage to a served project: the
// topic, its policy, then the body.
func (s *Server) publish(project, topic string, body []byte, reqID string) reply {
	u, ok := parseURN(topic)
	if !ok || u.project != project {
		// The project in the URN must be the path's (inferred: the topic
		// is looked up within the caller's project).
		return smnErr(http.StatusBadRequest, "SMN.0005", "Parameter: TopicUrn is invalid.", reqID)
	}
	if !s.topics[topic] {
		if s.opts.LiveNotFound {
			return gatewayErr(http.StatusBadRequest, "SMN.00010008", "Topic information is not found.", reqID)
		}
		return smnErr(http.StatusNotFound, "SMN.0006", "Topic not found.", reqID)
	}
	if s.deny[topic] {
		return smnErr(http.StatusForbidden, "SMN.00308", "Policy doesn't allow smn:topic:publish to be performed.", reqID)
	}
	req, err := decodePublish(body)
	if err != nil {
		return smnErr(http.StatusBadRequest, codeBadRequest, "Invalid JSON in the request body: "+err.Error(), reqID)
	}
	if rp := checkPublish(req, s.opts.MaxAttributes, reqID); rp != nil {
		return *rp
	}
	p := Published{
		Topic: topic, MessageID: newMessageID(), Subject: deref(req.Subject), Message: deref(req.Message),
		MessageStructure: deref(req.MessageStructure), TimeToLive: deref(req.TimeToLive),
		Attributes: req.attributes, Time: s.opts.Now(),
	}
	s.mu.Lock()
	s.published = append(s.published, p)
	s.mu.Unlock()
	return reply{http.StatusOK, map[string]string{"request_id": reqID, "message_id": p.MessageID}}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// newMessageID is 32 lower-case hexadecimal digits, the form of the API
// reference's example ("bf94b63a5dfb475994d3ac34664e24f2").
func newMessageID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// topicURN is a parsed topic URN.
type topicURN struct{ region, project, name string }

// parseURN parses urn:smn:{region}:{project_id}:{name} with SMN's topic
// name rule (1 to 255 letters, digits, '-' or '_', starting with a letter
// or digit; CreateTopic).
func parseURN(s string) (topicURN, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 5 || parts[0] != "urn" || parts[1] != "smn" || parts[2] == "" || parts[3] == "" {
		return topicURN{}, false
	}
	for _, c := range parts[2] + parts[3] {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return topicURN{}, false
		}
	}
	name := parts[4]
	if len(name) < 1 || len(name) > 255 || name[0] == '-' || name[0] == '_' {
		return topicURN{}, false
	}
	for _, c := range name {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return topicURN{}, false
		}
	}
	return topicURN{parts[2], parts[3], name}, true
}

func (s *Server) record(api string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Requests++
	if api == APIPublish {
		s.calls.Publish++
	}
	s.calls.Status[status]++
}

func (s *Server) write(w http.ResponseWriter, api, reqID string, rp reply) {
	s.record(api, rp.status)
	w.Header().Set("X-Request-Id", reqID)
	// The fallback is unreachable: every body is made of strings and maps.
	localsvc.WriteJSON(w, rp.status, rp.body, `{"code":"SMN.0018","message":"Service internal error."}`)
}
