package fgasync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/internal/emu"
)

// maxRequest bounds the body read before the signature is checked: a
// synchronous invocation's 6 MB; an asynchronous one is held to
// Options.MaxPayload after.
const maxRequest = 6 << 20

// Options configure a Server. Zero fields take the defaults.
type Options struct {
	// Signer is the credentials the API accepts (default
	// emulator.DefaultAK and emulator.DefaultSK, no security token).
	Signer emulator.Signer
	// ProjectID is the account's project: the path's project must be it
	// (default emulator.DefaultProject).
	ProjectID string
	// FunctionCredentials are what the function receives with every
	// delivery, as X-CFF-Access-Key, X-CFF-Secret-Key and
	// X-CFF-Security-Token (its agency's temporary credentials). Zero: no
	// such headers (a function without an agency).
	FunctionCredentials selfinvoke.Credentials
	// MaxPayload bounds the request body (default
	// selfinvoke.FunctionGraphMaxAsyncPayload).
	MaxPayload int
	// Duplicate delivers every accepted invocation twice, the second
	// delivery after the first has finished, with the same request id (as
	// the platform's retry of an asynchronous invocation may).
	Duplicate bool
	// Now is the clock of the signature check (default time.Now).
	Now func() time.Time
}

// Invocation is one accepted asynchronous invocation.
type Invocation struct {
	// RequestID is the request_id answered, and X-Cff-Request-Id of its
	// deliveries.
	RequestID string
	// URN is the function's URN as the path gave it.
	URN string
	// Payload is the request body as received.
	Payload []byte
	// Accepted is when it was answered 202.
	Accepted time.Time
	// Deliveries are the runs of the function so far: one, two with
	// Duplicate, fewer when the server closed first.
	Deliveries []Delivery
}

// Delivery is one run of an invocation through the function loop: from
// its queueing to the runtime API to its result; Error is true when the
// function posted to the error endpoint, Err set when the delivery itself
// failed (the server closed).
type Delivery = emu.Delivery

// clone copies inv for Invocations.
func (inv *Invocation) clone() Invocation {
	c := *inv
	c.Payload = bytes.Clone(inv.Payload)
	c.Deliveries = slices.Clone(inv.Deliveries)
	return c
}

// Server is FunctionGraph's asynchronous invocation API on 127.0.0.1. Safe
// for concurrent use.
type Server struct {
	opts Options
	core *emu.Server[Invocation]

	mu        sync.Mutex
	functions map[string]*runtimetest.Server
}

// New starts a server on a free loopback port.
func New(opts Options) (*Server, error) {
	if opts.Signer.AccessKey == "" && opts.Signer.SecretKey == "" {
		opts.Signer.AccessKey, opts.Signer.SecretKey = emulator.DefaultAK, emulator.DefaultSK
	}
	if opts.Signer.AccessKey == "" || opts.Signer.SecretKey == "" {
		return nil, errors.New("fgasync: the signer needs an access key and a secret key")
	}
	if opts.ProjectID == "" {
		opts.ProjectID = emulator.DefaultProject
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = selfinvoke.FunctionGraphMaxAsyncPayload
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	core, err := emu.Listen(opts.Duplicate, (*Invocation).clone)
	if err != nil {
		return nil, fmt.Errorf("fgasync: %w", err)
	}
	s := &Server{opts: opts, core: core, functions: map[string]*runtimetest.Server{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/{project}/fgs/functions/{urn}/invocations-async", s.invoke)
	mux.HandleFunc("/", s.noRoute)
	core.Serve(mux)
	return s, nil
}

// URL is the endpoint to give the dispatcher, http://127.0.0.1:port.
func (s *Server) URL() string { return s.core.URL() }

// Register makes urn a known function served by the runtime API rt: its
// accepted invocations are delivered to the bootstrap processes polling
// rt, concurrently up to their number.
func (s *Server) Register(urn selfinvoke.URN, rt *runtimetest.Server) error {
	if _, err := selfinvoke.ParseURN(urn.String()); err != nil {
		return fmt.Errorf("fgasync: %w", err)
	}
	if rt == nil {
		return errors.New("fgasync: no runtime API to deliver to")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[urn.String()] = rt
	return nil
}

// FailNext answers the next n asynchronous calls that pass the signature
// check with status, in the body the real API gives it.
func (s *Server) FailNext(n, status int) { s.core.FailNext(n, status) }

// SetDuplicate turns Options.Duplicate on or off for the invocations
// accepted from now on.
func (s *Server) SetDuplicate(on bool) { s.core.SetDuplicate(on) }

// Requests counts the asynchronous calls received, refused ones included.
func (s *Server) Requests() int { return s.core.Requests() }

// Invocations returns a copy of every accepted invocation, in the order
// accepted.
func (s *Server) Invocations() []Invocation { return s.core.Invocations() }

// Wait returns once no accepted invocation is queued or running, or with
// ctx's error. Invocations accepted while it waits (a function that
// invokes itself) are waited for too.
func (s *Server) Wait(ctx context.Context) error { return s.core.Wait(ctx) }

// Close stops the server: it refuses new calls, stops the deliveries in
// flight (recorded with Err) and returns once they have ended.
func (s *Server) Close() error { return s.core.Close() }

// reply is a status and a JSON body.
type reply struct {
	status int
	body   any
}

// gatewayErr is the API gateway's flat body.
func gatewayErr(status int, code, msg, reqID string) reply {
	return reply{status, map[string]string{"error_code": code, "error_msg": msg, "request_id": reqID}}
}

// fssErr is FunctionGraph's body: {"error_code":"FSS.xxxx","error_msg":...}.
func fssErr(status int, code, msg string) reply {
	return reply{status, map[string]string{"error_code": code, "error_msg": msg}}
}

func (s *Server) noRoute(w http.ResponseWriter, _ *http.Request) {
	reqID := uuid.NewString()
	s.write(w, reqID, gatewayErr(http.StatusNotFound, "APIGW.0101",
		"The API does not exist or has not been published in the environment", reqID))
}

// invoke answers one asynchronous invocation call.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	s.core.Called()
	reqID := uuid.NewString()
	s.write(w, reqID, s.accept(w, r, reqID))
}

// accept checks one call as the gateway and the service do, in their order,
// and queues it when it passes.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, reqID string) reply {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		return fssErr(http.StatusRequestEntityTooLarge, "FSS.0413",
			fmt.Sprintf("The request body is unreadable or larger than %d bytes", maxRequest))
	}
	if err := emulator.VerifySignature(r, body, s.opts.Signer, s.opts.Now()); err != nil {
		return gatewayErr(http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+err.Error(), reqID)
	}
	project := r.PathValue("project")
	if hp := r.Header.Get("X-Project-Id"); hp != project {
		return gatewayErr(http.StatusForbidden, "APIGW.0302", "The project id in the path does not match the X-Project-Id header", reqID)
	}
	if project != s.opts.ProjectID {
		return gatewayErr(http.StatusForbidden, "APIGW.0302", "The project "+project+" does not belong to this account", reqID)
	}
	if status, ok := s.core.Fault(); ok {
		return injected(status, reqID)
	}
	raw := r.PathValue("urn")
	urn, err := selfinvoke.ParseURN(raw)
	if err != nil {
		return fssErr(http.StatusBadRequest, "FSS.0400", "Invalid function URN: "+err.Error())
	}
	if urn.ProjectID != project {
		return fssErr(http.StatusBadRequest, "FSS.0400", "The project of the function URN does not match the project in the path")
	}
	s.mu.Lock()
	rt, known := s.functions[urn.String()]
	s.mu.Unlock()
	if !known {
		return fssErr(http.StatusNotFound, "FSS.1051", "Not found the function")
	}
	if len(body) > s.opts.MaxPayload {
		return fssErr(http.StatusRequestEntityTooLarge, "FSS.0413",
			fmt.Sprintf("The request body has %d bytes, over the %d-byte limit of asynchronous invocations", len(body), s.opts.MaxPayload))
	}
	if !isObject(body) {
		return fssErr(http.StatusBadRequest, "FSS.0400", "The request body is not a JSON object")
	}
	id := reqID // X-Request-Id and request_id agree
	inv := &Invocation{RequestID: id, URN: raw, Payload: body, Accepted: time.Now()}
	times := s.core.Deliveries()
	if !s.core.Start(inv, func(ctx context.Context) { s.deliver(ctx, inv, rt, times) }) {
		return fssErr(http.StatusServiceUnavailable, "FSS.0503", "The service is shutting down")
	}
	return reply{http.StatusAccepted, map[string]string{"request_id": id}}
}

// injected is the answer FailNext gives for status, in the shape the
// gateway or the service gives it.
func injected(status int, reqID string) reply {
	switch status {
	case http.StatusUnauthorized:
		return gatewayErr(status, "APIGW.0301", "Incorrect IAM authentication information: Unauthorized (injected)", reqID)
	case http.StatusTooManyRequests:
		return gatewayErr(status, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second (injected)", reqID)
	case http.StatusNotFound:
		return fssErr(status, "FSS.1051", "Not found the function (injected)")
	}
	return fssErr(status, fmt.Sprintf("FSS.%04d", status), http.StatusText(status)+" (injected)")
}

// isObject reports whether body is exactly one JSON object.
func isObject(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return false
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	var m map[string]json.RawMessage
	if dec.Decode(&m) != nil {
		return false
	}
	_, err = dec.Token()
	return errors.Is(err, io.EOF)
}

// deliver runs inv through the runtime API rt, times times in a row,
// until ctx ends.
func (s *Server) deliver(ctx context.Context, inv *Invocation, rt *runtimetest.Server, times int) {
	h := http.Header{}
	h.Set("X-Cff-Invoke-Type", "async")
	if c := s.opts.FunctionCredentials; c.AccessKey != "" || c.SecretKey != "" {
		h.Set("X-Cff-Access-Key", c.AccessKey)
		h.Set("X-Cff-Secret-Key", c.SecretKey)
		if c.SecurityToken != "" {
			h.Set("X-Cff-Security-Token", c.SecurityToken)
		}
	}
	for range times {
		d := Delivery{Started: time.Now()}
		res, err := rt.Invoke(ctx, runtimetest.Event{RequestID: inv.RequestID, Payload: inv.Payload, Header: h.Clone()})
		d.Finished = time.Now()
		if err != nil {
			d.Err = err
		} else {
			d.Result, d.Error = res.Body, res.Error
		}
		s.core.Update(func() { inv.Deliveries = append(inv.Deliveries, d) })
		if err != nil {
			return
		}
	}
}

func (s *Server) write(w http.ResponseWriter, reqID string, rp reply) {
	data, err := json.Marshal(rp.body)
	if err != nil {
		// Unreachable: every body is made of strings.
		data, rp.status = []byte(`{"error_code":"FSS.0500","error_msg":"encode response"}`), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("X-Request-Id", reqID)
	h.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(rp.status)
	w.Write(data) //nolint:errcheck // the client sees a short body
}
