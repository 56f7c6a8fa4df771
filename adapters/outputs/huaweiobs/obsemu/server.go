package obsemu

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Defaults and limits.
const (
	DefaultAK = "TAGWARDENOBSEMULATORAK"
	DefaultSK = "tagwarden-obs-emulator-secret-key-00000000"
	// DefaultBucket is served when Options.Buckets is empty.
	DefaultBucket = "tagwarden-reports"
	// MaxKeyBytes is the longest object key: "An object key is a UTF-8
	// string up to 1,024 characters long"
	// (https://support.huaweicloud.com/intl/en-us/usermanual-obs/obs_41_0015.html),
	// counted in bytes.
	MaxKeyBytes = 1024
	// MaxObjectBytes is the largest object one PUT uploads: "You can
	// upload an object not more than 5 GB by a PUT or POST operation"
	// (https://support.huaweicloud.com/en-us/devg-obs/obs_06_0028.html).
	MaxObjectBytes int64 = 5 << 30
	// DefaultContentType answers a GET of an object stored without one.
	DefaultContentType = "application/octet-stream"
	// drainLimit bounds the body read and thrown away before an error
	// answers a PUT, so that the client reads the answer rather than a
	// reset connection.
	drainLimit = 64 << 20
)

// Operations as Calls counts them.
const (
	OpPutObject    = "put_object"
	OpGetObject    = "get_object"
	OpHeadObject   = "head_object"
	OpDeleteObject = "delete_object"
	OpHeadBucket   = "head_bucket"
	OpOther        = "other" // refused: 405 or 501
)

// Options configure a Server. The zero value serves DefaultBucket with
// DefaultAK/DefaultSK, path-style only.
type Options struct {
	// Buckets served (empty: DefaultBucket). Others are NoSuchBucket.
	Buckets []string
	// AccessKey and SecretKey verify signatures (empty: DefaultAK/DefaultSK).
	AccessKey, SecretKey string
	// SecurityToken, when set, must be sent (and so signed) as
	// x-obs-security-token (x-amz-security-token with an AWS signature),
	// as with temporary credentials; when empty a request carrying one is
	// refused.
	SecurityToken string
	// Deny lists buckets whose every call is answered 403 AccessDenied
	// after the signature verifies (see also SetDenied).
	Deny []string
	// NoList lists buckets on which the caller is taken to lack the
	// bucket's ListBucket permission: a GET or HEAD of an object that
	// does not exist is answered 403 AccessDenied, not 404 NoSuchKey, as
	// OBS answers such a caller (the AccessDenied error code's page:
	// "If the object does not exist ... without the ListBucket
	// permission, 403 is returned"; see also SetNoList).
	NoList []string
	// Domain, when set, also serves virtual-hosted style: a request to
	// host <bucket>.<Domain> (any port) addresses that bucket, the path
	// being the key. Path style (/<bucket>/<key>) is always served.
	Domain string
	// MaxObjectBytes bounds one PUT (0: MaxObjectBytes, 5 GiB).
	MaxObjectBytes int64
	// Now is the clock for the signed date (nil: time.Now).
	Now func() time.Time
}

// ObjectMeta describes a stored object.
type ObjectMeta struct {
	ContentType     string // as sent ("" if none)
	ContentEncoding string
	ETag            string // the quoted hex MD5 of the bytes
	Size            int64
	LastModified    time.Time
}

type object struct {
	data []byte // never changed once stored
	meta ObjectMeta
}

// Server is a local OBS. It is an http.Handler; Listen serves it on a TCP
// port. All methods are safe for concurrent use.
type Server struct {
	opts    Options
	mu      sync.RWMutex
	buckets map[string]map[string]*object
	denied  map[string]bool
	noList  map[string]bool
	faults  localsvc.Injector
	reqIDs  localsvc.RequestIDs

	callsMu sync.Mutex
	calls   Calls

	ln localsvc.Listener
}

// New builds a Server from opts. It fails on a bucket name that is empty,
// holds "/" or is listed twice.
func New(opts Options) (*Server, error) {
	if len(opts.Buckets) == 0 {
		opts.Buckets = []string{DefaultBucket}
	}
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAK
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSK
	}
	if opts.MaxObjectBytes <= 0 {
		opts.MaxObjectBytes = MaxObjectBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		buckets: make(map[string]map[string]*object, len(opts.Buckets)),
		denied:  map[string]bool{},
		noList:  map[string]bool{},
		calls:   newCalls(),
		ln:      localsvc.Listener{Name: "emulator"},
	}
	for _, b := range opts.Buckets {
		if b == "" || strings.ContainsAny(b, "/?#") {
			return nil, fmt.Errorf("invalid bucket name %q", b)
		}
		if _, dup := s.buckets[b]; dup {
			return nil, fmt.Errorf("bucket %q listed twice", b)
		}
		s.buckets[b] = map[string]*object{}
	}
	for _, b := range opts.Deny {
		s.denied[b] = true
	}
	for _, b := range opts.NoList {
		s.noList[b] = true
	}
	return s, nil
}

// Listen serves on addr (empty: "127.0.0.1:0", a free loopback port) and
// returns the base URL to give the SDK as endpoint, e.g.
// http://127.0.0.1:40123 (an IP address: the SDK addresses buckets in the
// path).
func (s *Server) Listen(addr string) (string, error) { return s.ln.Listen(addr, s) }

// Close stops a server started with Listen, closing open connections.
func (s *Server) Close() error { return s.ln.Close() }

// SetNoList makes a GET of a missing object of bucket answer 403
// AccessDenied (or, with false, 404 NoSuchKey again): Options.NoList.
func (s *Server) SetNoList(bucket string, noList bool) { s.setFlag(s.noList, bucket, noList) }

// SetDenied makes every call on bucket answer 403 AccessDenied (or not).
func (s *Server) SetDenied(bucket string, denied bool) { s.setFlag(s.denied, bucket, denied) }

// setFlag sets or clears bucket in one of the server's sets of buckets.
func (s *Server) setFlag(set map[string]bool, bucket string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		set[bucket] = true
	} else {
		delete(set, bucket)
	}
}

// Object returns a copy of an object's bytes and its metadata; false when
// the bucket or the object does not exist.
func (s *Server) Object(bucket, key string) ([]byte, ObjectMeta, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.buckets[bucket][key]
	if !ok {
		return nil, ObjectMeta{}, false
	}
	return bytes.Clone(o.data), o.meta, true
}

// SetObject stores an object as a PUT would (the ETag and size computed,
// LastModified now), outside the API; the bucket must be served. Tests
// use it to plant objects.
func (s *Server) SetObject(bucket, key string, data []byte, contentType, contentEncoding string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucket]
	if !ok {
		return fmt.Errorf("bucket %q is not served", bucket)
	}
	b[key] = newObject(bytes.Clone(data), contentType, contentEncoding, s.opts.Now())
	return nil
}

func newObject(data []byte, contentType, contentEncoding string, now time.Time) *object {
	sum := md5.Sum(data)
	return &object{data: data, meta: ObjectMeta{
		ContentType:     contentType,
		ContentEncoding: contentEncoding,
		ETag:            `"` + hex.EncodeToString(sum[:]) + `"`,
		Size:            int64(len(data)),
		LastModified:    now.UTC().Truncate(time.Second),
	}}
}

// Keys returns the keys of a bucket, sorted (nil when it is not served).
func (s *Server) Keys(bucket string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[bucket]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(b))
	for k := range b {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Calls counts the calls the emulator answered.
type Calls struct {
	// Ops counts calls by operation (OpPutObject, ...), answered or not.
	Ops map[string]int
	// Status counts answers by HTTP status; 0 counts calls dropped or
	// abandoned by their client.
	Status map[int]int
	// PeakPutBytes is the most body bytes one PUT delivered.
	PeakPutBytes int64
}

func newCalls() Calls { return Calls{Ops: map[string]int{}, Status: map[int]int{}} }

// Calls returns a copy of the counters.
func (s *Server) Calls() Calls {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	out := newCalls()
	for k, v := range s.calls.Ops {
		out.Ops[k] = v
	}
	for k, v := range s.calls.Status {
		out.Status[k] = v
	}
	out.PeakPutBytes = s.calls.PeakPutBytes
	return out
}

// ResetCalls zeroes the counters.
func (s *Server) ResetCalls() {
	s.callsMu.Lock()
	s.calls = newCalls()
	s.callsMu.Unlock()
}

func (s *Server) record(op string, status int) {
	s.callsMu.Lock()
	s.calls.Ops[op]++
	s.calls.Status[status]++
	s.callsMu.Unlock()
}

func (s *Server) recordPut(n int64) {
	s.callsMu.Lock()
	s.calls.PeakPutBytes = max(s.calls.PeakPutBytes, n)
	s.callsMu.Unlock()
}

// apiError is an error answer: a status and OBS's code and message.
type apiError struct {
	status        int
	code, message string
}

// route is a parsed request.
type route struct {
	op          string
	bucket, key string
	resource    string // the canonicalized resource, before subresources
	query       []queryParam
	latency     time.Duration // still to wait before answering
}

// parseRoute reads the bucket, the key and the resource from the request
// as received: path style (/bucket/key), or virtual-hosted style when the
// host is <bucket>.<Domain>. The key is the path after the bucket,
// percent-decoded; the resource is "/bucket" and the path as sent, which
// is what the client signed.
func (s *Server) parseRoute(r *http.Request) (*route, *apiError) {
	rt := &route{op: OpOther}
	raw := r.RequestURI
	if !strings.HasPrefix(raw, "/") {
		return rt, &apiError{400, "InvalidURI", "Couldn't parse the specified URI."}
	}
	path, rawQuery, _ := strings.Cut(raw, "?")
	q, ok := parseQuery(rawQuery)
	if !ok {
		return rt, &apiError{400, "InvalidURI", "Couldn't parse the specified URI."}
	}
	rt.query = q
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	var rawKey string
	if d := s.opts.Domain; d != "" && strings.HasSuffix(host, "."+d) && len(host) > len(d)+1 {
		rt.bucket = strings.TrimSuffix(host, "."+d)
		rawKey = strings.TrimPrefix(path, "/")
		rt.resource = "/" + rt.bucket + path
	} else {
		rt.bucket, rawKey, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
		rt.resource = path
	}
	key, err := url.PathUnescape(rawKey)
	if err != nil || !utf8.ValidString(key) {
		return rt, &apiError{400, "InvalidURI", "Couldn't parse the specified URI."}
	}
	rt.key = key
	switch {
	case rt.bucket == "":
	case key == "":
		if r.Method == http.MethodHead {
			rt.op = OpHeadBucket
		}
	default:
		switch r.Method {
		case http.MethodPut:
			rt.op = OpPutObject
		case http.MethodGet:
			rt.op = OpGetObject
		case http.MethodHead:
			rt.op = OpHeadObject
		case http.MethodDelete:
			rt.op = OpDeleteObject
		}
	}
	return rt, nil
}

// requestID is the id of one answer: 32 upper-case hexadecimal digits.
func (s *Server) requestID() string { return strings.ToUpper(s.reqIDs.Next()) }

// ServeHTTP answers one call: faults drawn, the route parsed, the
// signature verified, the Sequence, the bucket (NoSuchBucket, then
// AccessDenied when denied), then the operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	rt, perr := s.parseRoute(r)
	fs := s.faults.Load()
	rt.latency = fs.Latency
	// A PUT waits once its body is read: only then does net/http watch the
	// connection, and see a client that gives up.
	if r.Method != http.MethodPut && !s.wait(r, rt) {
		s.record(rt.op, 0)
		return
	}
	outcome := fs.Draw()
	if outcome == localsvc.Drop {
		if !localsvc.DropConn(w, func() { s.record(rt.op, 0) }) {
			// The writer cannot be hijacked (httptest.ResponseRecorder, HTTP/2).
			s.fail(w, r, rt, reqID, errInternal())
		}
		return
	}
	if outcome > 0 {
		s.fail(w, r, rt, reqID, injected(outcome))
		return
	}
	if perr != nil {
		s.fail(w, r, rt, reqID, perr)
		return
	}
	if fs.Unauthorized {
		msg := msgNoSuchAK
		if s.opts.SecurityToken != "" {
			msg = msgBadToken
		}
		s.fail(w, r, rt, reqID, &apiError{403, "InvalidAccessKeyId", msg + " (injected: the credentials have expired)"})
		return
	}
	if aerr := s.verify(r, rt, s.opts.Now()); aerr != nil {
		s.fail(w, r, rt, reqID, aerr)
		return
	}
	if status := fs.Next(); status != 0 {
		s.fail(w, r, rt, reqID, injected(status))
		return
	}
	if rt.bucket == "" {
		s.fail(w, r, rt, reqID, &apiError{501, "NotImplemented", "Listing buckets is not served by this emulator."})
		return
	}
	s.mu.RLock()
	_, known := s.buckets[rt.bucket]
	denied := s.denied[rt.bucket]
	s.mu.RUnlock()
	switch {
	case !known:
		s.fail(w, r, rt, reqID, &apiError{404, "NoSuchBucket", "The specified bucket does not exist."})
		return
	case denied:
		s.fail(w, r, rt, reqID, &apiError{403, "AccessDenied", "Access Denied"})
		return
	case rt.op == OpOther && rt.key == "":
		s.fail(w, r, rt, reqID, &apiError{501, "NotImplemented", "Only HEAD of a bucket is served by this emulator."})
		return
	case rt.op == OpOther:
		s.fail(w, r, rt, reqID, &apiError{405, "MethodNotAllowed", "The specified method is not allowed against this resource."})
		return
	}
	for _, p := range rt.query {
		if subresources[strings.ToLower(p.key)] {
			s.fail(w, r, rt, reqID, &apiError{501, "NotImplemented", "The subresource " + p.key + " is not served by this emulator."})
			return
		}
	}
	switch rt.op {
	case OpPutObject:
		s.putObject(w, r, rt, reqID)
	case OpGetObject, OpHeadObject:
		s.getObject(w, r, rt, reqID)
	case OpDeleteObject:
		s.mu.Lock()
		delete(s.buckets[rt.bucket], rt.key)
		s.mu.Unlock()
		s.answer(w, rt.op, reqID, http.StatusNoContent)
	case OpHeadBucket:
		s.answer(w, rt.op, reqID, http.StatusOK)
	}
}

// putObject stores the body: Content-Length required, the key and size
// limits, Content-MD5 checked when sent.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, rt *route, reqID string) {
	switch {
	case len(rt.key) > MaxKeyBytes:
		s.fail(w, r, rt, reqID, &apiError{400, "KeyTooLongError", "Your key is too long."})
		return
	case r.Header.Get("Content-Length") == "" || r.ContentLength < 0:
		s.fail(w, r, rt, reqID, &apiError{411, "MissingContentLength", "You must provide the Content-Length HTTP header."})
		return
	case r.ContentLength > s.opts.MaxObjectBytes:
		s.fail(w, r, rt, reqID, &apiError{400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."})
		return
	}
	var want []byte
	if v := r.Header.Get("Content-Md5"); v != "" {
		d, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(d) != md5.Size {
			s.fail(w, r, rt, reqID, &apiError{400, "InvalidDigest", "The Content-MD5 you specified is not valid."})
			return
		}
		want = d
	}
	data, err := readBody(r.Body, r.ContentLength)
	s.recordPut(int64(len(data)))
	if !s.wait(r, rt) || r.Context().Err() != nil {
		// The client is gone (its deadline cut the call): store nothing,
		// answer nothing.
		s.record(rt.op, 0)
		return
	}
	if err != nil {
		s.fail(w, r, rt, reqID, &apiError{400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."})
		return
	}
	obj := newObject(data, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), s.opts.Now())
	if want != nil && "\""+hex.EncodeToString(want)+"\"" != obj.meta.ETag {
		s.fail(w, r, rt, reqID, &apiError{400, "BadDigest", "The Content-MD5 you specified did not match what we received."})
		return
	}
	s.mu.Lock()
	b, ok := s.buckets[rt.bucket]
	if ok {
		b[rt.key] = obj
	}
	s.mu.Unlock()
	if !ok { // the bucket was checked; buckets are never removed
		s.fail(w, r, rt, reqID, &apiError{404, "NoSuchBucket", "The specified bucket does not exist."})
		return
	}
	w.Header().Set("ETag", obj.meta.ETag)
	w.Header().Set("Content-Length", "0")
	s.answer(w, rt.op, reqID, http.StatusOK)
}

// readBody reads exactly n bytes: preallocated up to 64 MiB, grown beyond.
func readBody(body io.Reader, n int64) ([]byte, error) {
	if n <= 64<<20 {
		buf := make([]byte, n)
		k, err := io.ReadFull(body, buf)
		return buf[:k], err
	}
	var b bytes.Buffer
	b.Grow(64 << 20)
	k, err := io.Copy(&b, io.LimitReader(body, n))
	if err == nil && k < n {
		err = io.ErrUnexpectedEOF
	}
	return b.Bytes(), err
}

// getObject answers GET and HEAD of an object: the bytes (GET), with
// Content-Type, Content-Encoding, ETag, Content-Length and Last-Modified.
// Range and conditional headers are not served: the whole object is.
func (s *Server) getObject(w http.ResponseWriter, r *http.Request, rt *route, reqID string) {
	s.mu.RLock()
	o, ok := s.buckets[rt.bucket][rt.key]
	noList := s.noList[rt.bucket]
	s.mu.RUnlock()
	switch {
	case !ok && noList:
		s.fail(w, r, rt, reqID, &apiError{403, "AccessDenied", "Access Denied"})
		return
	case !ok:
		s.fail(w, r, rt, reqID, &apiError{404, "NoSuchKey", "The specified key does not exist."})
		return
	}
	h := w.Header()
	ct := o.meta.ContentType
	if ct == "" {
		ct = DefaultContentType
	}
	h.Set("Content-Type", ct)
	if o.meta.ContentEncoding != "" {
		h.Set("Content-Encoding", o.meta.ContentEncoding)
	}
	h.Set("ETag", o.meta.ETag)
	h.Set("Last-Modified", o.meta.LastModified.Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(o.meta.Size, 10))
	s.answer(w, rt.op, reqID, http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(o.data) //nolint:errcheck // the client may be gone
	}
}

// wait waits the injected latency, once per call; false when the client
// went away meanwhile.
func (s *Server) wait(r *http.Request, rt *route) bool {
	d := rt.latency
	rt.latency = 0
	return localsvc.Delay(r.Context(), d)
}

// answer writes a success's status with the request id headers.
func (s *Server) answer(w http.ResponseWriter, op, reqID string, status int) {
	s.record(op, status)
	h := w.Header()
	h.Set("x-obs-request-id", reqID)
	h.Set("x-obs-id-2", hostID(reqID))
	w.WriteHeader(status)
}

func hostID(reqID string) string {
	return base64.StdEncoding.EncodeToString([]byte("obsemu/" + reqID))
}

// errorBody is OBS's XML error body.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
	Key        string   `xml:"Key,omitempty"`
	BucketName string   `xml:"BucketName,omitempty"`
}

// fail answers an error: OBS's XML body (none for HEAD), x-obs-request-id
// and x-obs-id-2. A PUT's body is read (up to 64 MiB) and thrown away
// first, so that the client reads the answer and not a reset connection.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rt *route, reqID string, e *apiError) {
	if r.Method == http.MethodPut && r.Body != nil {
		io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit)) //nolint:errcheck // best effort
		if !s.wait(r, rt) {
			s.record(rt.op, 0)
			return
		}
	}
	s.record(rt.op, e.status)
	h := w.Header()
	h.Set("x-obs-request-id", reqID)
	h.Set("x-obs-id-2", hostID(reqID))
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	body := errorBody{Code: e.code, Message: e.message, RequestID: reqID, HostID: hostID(reqID)}
	switch e.code {
	case "NoSuchBucket":
		body.BucketName = rt.bucket
	case "NoSuchKey":
		body.Key = rt.key
	}
	data, err := xml.Marshal(body)
	if err != nil { // unreachable: strings only
		data = []byte("<Error><Code>InternalError</Code></Error>")
	}
	data = append([]byte(xml.Header), data...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(e.status)
	w.Write(data) //nolint:errcheck // the client may be gone
}
