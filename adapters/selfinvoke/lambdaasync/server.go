package lambdaasync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/internal/emu"
)

// Defaults of Options.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
	DefaultAccessKey = "AKIATAGWARDENLOCAL01"
	DefaultSecretKey = "tagwarden-lambda-local-secret-key-000000"
)

// Invocation types of the Invoke API (X-Amz-Invocation-Type).
const (
	Event           = "Event"
	RequestResponse = "RequestResponse"
	DryRun          = "DryRun"
)

// Function runs one invocation: the tests pass a Go func, the demo
// (*lambdarie.Emulator).Invoke, which runs the real bootstrap under the
// runtime interface emulator. An error, or a body of the runtime's error
// shape {"errorMessage","errorType"}, is a function error.
type Function func(ctx context.Context, payload []byte) ([]byte, error)

// Options configure a Server. Zero fields take the defaults.
type Options struct {
	// Region and AccountID make the functions' ARNs and the credential
	// scope (defaults DefaultRegion, DefaultAccountID).
	Region, AccountID string
	// AccessKey and SecretKey are the credentials the API accepts, and
	// SessionToken the security token of temporary ones ("" for permanent
	// ones). Defaults: DefaultAccessKey, DefaultSecretKey, no token.
	AccessKey, SecretKey, SessionToken string
	// MaxAsyncPayload bounds an Event payload (default
	// selfinvoke.LambdaMaxAsyncPayload).
	MaxAsyncPayload int
	// Duplicate delivers every accepted Event invocation twice, the second
	// delivery queued again after the first has run, with the same request
	// id (as Lambda may deliver an event more than once).
	Duplicate bool
	// Now is the clock of the signature check (default time.Now).
	Now func() time.Time
}

// Invocation is one accepted invocation.
type Invocation struct {
	// RequestID is the x-amzn-RequestId answered.
	RequestID string
	// FunctionName is the registered function's name; Qualifier the
	// version or alias asked for ("" for none).
	FunctionName, Qualifier string
	// InvocationType is Event or RequestResponse.
	InvocationType string
	// Payload is the request body as received ("{}" for an empty one).
	Payload []byte
	// Accepted is when the call was accepted.
	Accepted time.Time
	// Deliveries are the runs of the function so far.
	Deliveries []Delivery
}

// Delivery is one run of an invocation: Error is true for a function
// error, Err the error the Function returned or why the run did not happen
// (the server closed).
type Delivery = emu.Delivery

// clone copies inv for Invocations.
func (inv *Invocation) clone() Invocation {
	c := *inv
	c.Payload = bytes.Clone(inv.Payload)
	c.Deliveries = slices.Clone(inv.Deliveries)
	return c
}

// Server is the Lambda Invoke API on 127.0.0.1. Safe for concurrent use.
type Server struct {
	opts Options
	core *emu.Server[Invocation]

	mu        sync.Mutex
	functions map[string]*function
}

// function is a registered function and its queue, delivered one at a
// time (the runtime interface emulator crashes on concurrent invocations).
type function struct {
	name       string
	fn         Function
	qualifiers map[string]bool
	mu         sync.Mutex
	queue      []*job
	wake       chan struct{}
}

// job is one delivery to make.
type job struct {
	inv   *Invocation
	left  int           // deliveries left, the current one included
	reply chan Delivery // RequestResponse: the caller's
}

// New starts a server on a free loopback port.
func New(opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.AccessKey == "" && opts.SecretKey == "" {
		opts.AccessKey, opts.SecretKey = DefaultAccessKey, DefaultSecretKey
	}
	if opts.AccessKey == "" || opts.SecretKey == "" {
		return nil, errors.New("lambdaasync: the credentials need an access key and a secret key")
	}
	if opts.MaxAsyncPayload <= 0 {
		opts.MaxAsyncPayload = selfinvoke.LambdaMaxAsyncPayload
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	core, err := emu.Listen(opts.Duplicate, (*Invocation).clone)
	if err != nil {
		return nil, fmt.Errorf("lambdaasync: %w", err)
	}
	s := &Server{opts: opts, core: core, functions: map[string]*function{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.invoke)
	mux.HandleFunc("/", s.noRoute)
	core.Serve(mux)
	return s, nil
}

// URL is the endpoint to give the dispatcher, http://127.0.0.1:port.
func (s *Server) URL() string { return s.core.URL() }

// ARN is the ARN of the function name on this server.
func (s *Server) ARN(name string) string {
	return "arn:aws:lambda:" + s.opts.Region + ":" + s.opts.AccountID + ":function:" + name
}

// Register makes name a known function run by fn; besides $LATEST, it
// answers to the qualifiers given (versions or aliases).
func (s *Server) Register(name string, fn Function, qualifiers ...string) error {
	f, err := selfinvoke.ParseLambdaFunction(name)
	if err != nil || f.Name != name {
		return fmt.Errorf("lambdaasync: register %q: want a plain function name", name)
	}
	if fn == nil {
		return errors.New("lambdaasync: no function to run")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.functions[name]; dup {
		return fmt.Errorf("lambdaasync: %s is already registered", name)
	}
	fs := &function{name: name, fn: fn, qualifiers: map[string]bool{"$LATEST": true}, wake: make(chan struct{}, 1)}
	for _, q := range qualifiers {
		fs.qualifiers[q] = true
	}
	if !s.core.Go(func(ctx context.Context) { s.work(ctx, fs) }) {
		return errors.New("lambdaasync: closed")
	}
	s.functions[name] = fs
	return nil
}

// FailNext answers the next n calls that pass the signature check with
// status, in the body the real API gives it.
func (s *Server) FailNext(n, status int) { s.core.FailNext(n, status) }

// SetDuplicate turns Options.Duplicate on or off for the invocations
// accepted from now on.
func (s *Server) SetDuplicate(on bool) { s.core.SetDuplicate(on) }

// Requests counts the Invoke calls received, refused ones included.
func (s *Server) Requests() int { return s.core.Requests() }

// Invocations returns a copy of every accepted invocation, in the order
// accepted.
func (s *Server) Invocations() []Invocation { return s.core.Invocations() }

// Wait returns once no accepted invocation is queued or running, or with
// ctx's error. Invocations accepted while it waits (a function that
// invokes itself) are waited for too.
func (s *Server) Wait(ctx context.Context) error { return s.core.Wait(ctx) }

// Close stops the server: it refuses new calls, lets the run in progress
// of each function end, drops what is queued (recorded with Err) and
// returns once the workers have stopped.
func (s *Server) Close() error { return s.core.Close() }

// apiError is an error answer: status, x-amzn-ErrorType and the body
// {"Type","message"} (plus extra fields).
type apiError struct {
	status  int
	errType string
	kind    string // User or Service
	msg     string
	extra   map[string]string
	header  map[string]string
}

func userErr(status int, errType, msg string) *apiError {
	return &apiError{status: status, errType: errType, kind: "User", msg: msg}
}

func (s *Server) noRoute(w http.ResponseWriter, _ *http.Request) {
	s.writeErr(w, uuid.NewString(), userErr(http.StatusNotFound, "UnknownOperationException", "Unknown operation"))
}

// invoke answers one Invoke call.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	s.core.Called()
	reqID := uuid.NewString()
	inv, f, e := s.accept(r, reqID)
	if e != nil {
		s.writeErr(w, reqID, e)
		return
	}
	h := w.Header()
	h.Set("x-amzn-RequestId", reqID)
	switch {
	case inv == nil: // DryRun
		w.WriteHeader(http.StatusNoContent)
	case inv.InvocationType == Event:
		w.WriteHeader(http.StatusAccepted)
	default:
		reply := make(chan Delivery, 1)
		if !s.enqueue(f, &job{inv: inv, left: 1, reply: reply}) {
			s.writeErr(w, reqID, &apiError{status: http.StatusServiceUnavailable, errType: "ServiceException", kind: "Service", msg: "The service is shutting down"})
			return
		}
		select {
		case d := <-reply:
			h.Set("Content-Type", "application/json")
			h.Set("X-Amz-Executed-Version", "$LATEST")
			if d.Error {
				h.Set("X-Amz-Function-Error", "Unhandled")
			}
			w.WriteHeader(http.StatusOK)
			w.Write(d.Result) //nolint:errcheck // the client sees a short body
		case <-r.Context().Done():
		}
	}
}

// accept checks one call as the service does, in its order, and records
// and (for Event) queues it when it passes. It returns a nil invocation
// for DryRun.
func (s *Server) accept(r *http.Request, reqID string) (*Invocation, *function, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, selfinvoke.LambdaMaxSyncPayload+1))
	if err != nil {
		return nil, nil, userErr(http.StatusBadRequest, "InvalidRequestContentException", "Could not read the request body")
	}
	if len(body) > selfinvoke.LambdaMaxSyncPayload {
		return nil, nil, userErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", selfinvoke.LambdaMaxSyncPayload))
	}
	if ae := s.verify(r, body, s.opts.Now()); ae != nil {
		return nil, nil, userErr(http.StatusForbidden, ae.errType, ae.msg)
	}
	if status, ok := s.core.Fault(); ok {
		return nil, nil, injected(status)
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = RequestResponse
	}
	if typ != Event && typ != RequestResponse && typ != DryRun {
		return nil, nil, userErr(http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", clip(typ)))
	}
	name := r.PathValue("name")
	ref, err := selfinvoke.ParseLambdaFunction(name)
	if err != nil {
		return nil, nil, userErr(http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy the function name pattern", clip(name)))
	}
	qualifier := ref.Qualifier
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		if qualifier != "" && q != qualifier {
			return nil, nil, userErr(http.StatusBadRequest, "InvalidParameterValueException",
				"The derived qualifier from the function name does not match the specified qualifier.")
		}
		qualifier = q
	}
	s.mu.Lock()
	f := s.functions[ref.Name]
	s.mu.Unlock()
	if f == nil || ref.Region != "" && ref.Region != s.opts.Region || ref.AccountID != "" && ref.AccountID != s.opts.AccountID ||
		qualifier != "" && !f.qualifiers[qualifier] {
		return nil, nil, userErr(http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+s.notFoundARN(ref, qualifier))
	}
	if typ == Event && len(body) > s.opts.MaxAsyncPayload {
		return nil, nil, userErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			fmt.Sprintf("%d byte payload is too large for the Event invocation type (limit %d bytes)", len(body), s.opts.MaxAsyncPayload))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		return nil, nil, userErr(http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
	}
	if typ == DryRun {
		return nil, f, nil
	}
	inv := &Invocation{RequestID: reqID, FunctionName: f.name, Qualifier: qualifier, InvocationType: typ, Payload: body, Accepted: time.Now()}
	s.core.Record(inv)
	if typ == Event {
		if !s.enqueue(f, &job{inv: inv, left: s.core.Deliveries()}) {
			return nil, nil, &apiError{status: http.StatusServiceUnavailable, errType: "ServiceException", kind: "Service", msg: "The service is shutting down"}
		}
	}
	return inv, f, nil
}

// notFoundARN is the ARN the not-found message names.
func (s *Server) notFoundARN(ref selfinvoke.LambdaFunction, qualifier string) string {
	region, account := ref.Region, ref.AccountID
	if region == "" {
		region = s.opts.Region
	}
	if account == "" {
		account = s.opts.AccountID
	}
	arn := "arn:aws:lambda:" + region + ":" + account + ":function:" + ref.Name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// injected is the answer FailNext gives for status.
func injected(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return &apiError{status: status, errType: "TooManyRequestsException", kind: "User", msg: "Rate Exceeded. (injected)",
			extra: map[string]string{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}, header: map[string]string{"Retry-After": "1"}}
	case status == http.StatusForbidden:
		return userErr(status, "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction (injected)")
	case status == http.StatusNotFound:
		return userErr(status, "ResourceNotFoundException", "Function not found (injected)")
	case status == http.StatusRequestEntityTooLarge:
		return userErr(status, "RequestEntityTooLargeException", "Request too large (injected)")
	case status >= 500:
		return &apiError{status: status, errType: "ServiceException", kind: "Service", msg: http.StatusText(status) + " (injected)"}
	}
	return userErr(status, "InvalidParameterValueException", http.StatusText(status)+" (injected)")
}

// enqueue queues j for f's worker, counting it pending; false once closed.
func (s *Server) enqueue(f *function, j *job) bool {
	return s.core.Queue(func() { f.push(j) })
}

// push queues j at the tail of f's queue and wakes its worker: a new job,
// or one queued again for its next delivery (which stays pending).
func (f *function) push(j *job) {
	f.mu.Lock()
	f.queue = append(f.queue, j)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// next takes the head of f's queue, waiting for one; nil once ctx ends.
func (f *function) next(ctx context.Context) *job {
	for {
		if ctx.Err() != nil {
			return nil
		}
		f.mu.Lock()
		if len(f.queue) > 0 {
			j := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return j
		}
		f.mu.Unlock()
		select {
		case <-f.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// work delivers f's queue one job at a time until ctx ends (the server
// closes), then drops what is left.
func (s *Server) work(ctx context.Context, f *function) {
	for {
		j := f.next(ctx)
		if j == nil {
			break
		}
		d := run(ctx, f.fn, j.inv.Payload)
		s.record(j.inv, d)
		j.left--
		switch {
		case j.reply != nil:
			j.reply <- d
			s.core.Done()
		case j.left > 0 && ctx.Err() == nil:
			f.push(j)
		default:
			s.core.Done()
		}
	}
	f.mu.Lock()
	left := f.queue
	f.queue = nil
	f.mu.Unlock()
	for _, j := range left {
		now := time.Now()
		d := Delivery{Started: now, Finished: now, Error: true, Err: errors.New("not delivered: the server closed")}
		s.record(j.inv, d)
		if j.reply != nil {
			j.reply <- d
		}
		s.core.Done()
	}
}

func (s *Server) record(inv *Invocation, d Delivery) {
	s.core.Update(func() { inv.Deliveries = append(inv.Deliveries, d) })
}

// run calls fn once, turning a returned error or a panic into a function
// error with the runtime's error body.
func run(ctx context.Context, fn Function, payload []byte) (d Delivery) {
	d.Started = time.Now()
	defer func() {
		if p := recover(); p != nil {
			d.Err = fmt.Errorf("panic: %v", p)
			d.Result, d.Error = errorBody(d.Err), true
		}
		d.Finished = time.Now()
	}()
	out, err := fn(ctx, payload)
	if err != nil {
		d.Err, d.Result, d.Error = err, errorBody(err), true
		return d
	}
	d.Result, d.Error = out, isErrorBody(out)
	return d
}

// errorBody is the runtime's body for a failed function.
func errorBody(err error) []byte {
	t := reflect.TypeOf(err)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := "error"
	if t != nil && t.Name() != "" {
		name = t.Name()
	}
	b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": name})
	return b
}

// isErrorBody reports whether body is the runtime's error shape: an object
// of errorMessage, errorType (and stackTrace) only, one of the first two
// set.
func isErrorBody(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || len(m) == 0 {
		return false
	}
	for k := range m {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return false
		}
	}
	_, msg := m["errorMessage"]
	_, typ := m["errorType"]
	return msg || typ
}

func (s *Server) writeErr(w http.ResponseWriter, reqID string, e *apiError) {
	body := map[string]string{"Type": e.kind, "message": e.msg}
	for k, v := range e.extra {
		body[k] = v
	}
	data, _ := json.Marshal(body)
	h := w.Header()
	h.Set("x-amzn-RequestId", reqID)
	h.Set("x-amzn-ErrorType", e.errType)
	h.Set("Content-Type", "application/json")
	for k, v := range e.header {
		h.Set(k, v)
	}
	w.WriteHeader(e.status)
	w.Write(data) //nolint:errcheck // the client sees a short body
}
