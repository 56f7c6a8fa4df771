package handler

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// continuationVersion is the version of the continuation token format.
const continuationVersion = 2

// MaxContinuationLen bounds a continuation token, the ones the handler
// issues and the ones it accepts.
const MaxContinuationLen = 64 << 10

// DefaultContinuationTTL is how long a continuation stays valid.
const DefaultContinuationTTL = 24 * time.Hour

// MinContinuationKeyLen is the shortest continuation key accepted, in bytes.
const MinContinuationKeyLen = 32

// continuationContext separates the MAC of a continuation from any other
// use of the same key.
const continuationContext = "tagwarden continuation v2\n"

// continuation is the state a token carries. Its JSON field names are short
// because the token travels in events and URLs.
//
// A token is bound to what it continues: the store's scope (endpoint and
// project), the mode, the dry-run flag and the policy set's digest; it
// carries the time it was issued and is authenticated with an HMAC-SHA256
// under the deployment's continuation key. The handler checks all of that
// before it reads anything else from the token, so a forged, altered,
// foreign or stale token is refused and never moves a listing position.
//
// A sweep is resumed from Cursor, a position the store made (Page.After)
// right after the records that were all finished: the handler dispatches a
// page's records in order and waits for every dispatched record before it
// stops, so the finished records are a prefix. IDs are keys to read fresh
// and process first: in a sweep, keys whose processing was interrupted
// (access denied, context cancelled, the report full); in a key request,
// the keys not yet processed.
type continuation struct {
	V      int      `json:"v"`
	Scope  string   `json:"s"`
	Policy string   `json:"p"`
	Issued int64    `json:"t"` // Unix seconds
	Mode   Mode     `json:"m"`
	DryRun bool     `json:"d,omitempty"`
	IDs    []string `json:"k,omitempty"`
	List   bool     `json:"l,omitempty"` // the listing is not finished
	Cursor string   `json:"c,omitempty"`
	// Touched holds, for keys in IDs whose tag writes were cut short (their
	// outcome unknown), the values the tags they were changing had before:
	// tag key -> value, null for a tag that did not exist. The resumed
	// request recognises a write that did land from it, and reports the
	// change as the uncut request would have.
	Touched map[string]map[string]*string `json:"x,omitempty"`
	// Inexact is set once a link resumed at a position the store could
	// not find exactly: every later report of the sweep says so.
	Inexact bool `json:"q,omitempty"`
	// Stalls counts the invocations in a row that decided no key (their
	// writes were all cut in flight): after maxStalls the chain ends with
	// an error rather than go round for ever.
	Stalls int `json:"z,omitempty"`
	// Run and Link place the token in a run: the run's id and the number
	// of the link the token starts. Totals counts the target's sweep up to
	// the link that issued the token.
	Run    string  `json:"r,omitempty"`
	Link   int     `json:"n,omitempty"`
	Totals *Counts `json:"o,omitempty"`
	// Target is the name of the target the token continues (a store's
	// scope may change with its endpoint; the target's name does not): a
	// request for another target is refused, not restarted.
	Target string `json:"g,omitempty"`
	// Base is the first link of the chain's current stretch: the run's
	// first, or the link a person resumed by hand (Request.Resumed). The
	// chain's bound counts from it.
	Base int `json:"b,omitempty"`
}

// maxStalls bounds the invocations in a row that decide no key.
const maxStalls = 3

// binding is what a token must match to be accepted.
type binding struct {
	scope, policy string
	mode          Mode
	dryRun        bool
	// run and link, when run is set: the link the request says it is.
	run  string
	link int
	// target, when set: the target the request is for.
	target string
}

// sealer issues and opens continuation tokens under one key.
type sealer struct {
	key []byte
	ttl time.Duration
}

// newSealer returns a sealer for key; an empty key is replaced by a random
// one, so that tokens only resume in this process.
func newSealer(key []byte, ttl time.Duration) sealer {
	if len(key) == 0 {
		key = make([]byte, MinContinuationKeyLen)
		rand.Read(key) //nolint:errcheck // crypto/rand.Read never fails
	}
	if ttl <= 0 {
		ttl = DefaultContinuationTTL
	}
	return sealer{key: bytes.Clone(key), ttl: ttl}
}

func (s sealer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(continuationContext))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// seal encodes c as payload.mac, both base64url.
func (s sealer) seal(c continuation) string {
	b, err := json.Marshal(c)
	if err != nil { // cannot happen: plain strings, ints and maps
		panic(fmt.Sprintf("encode continuation: %v", err))
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// errStale marks a token that verifies but no longer matches the
// configuration (KindStaleContinuation).
var errStale = errors.New("stale continuation")

// staleError is a refusal of a token that verified: its content (run,
// link) can be trusted.
type staleError struct{ msg string }

func (e staleError) Error() string     { return e.msg }
func (e staleError) Is(err error) bool { return err == errStale }

// errForeignKey is the message of a token whose MAC does not verify.
const errForeignKey = "it does not verify: it was altered, made by hand, or issued by a deployment or process with another continuation key (" + settingContinuationKey + ")"

// peek returns the run and link of a token that verifies, checking
// nothing else.
func (s sealer) peek(tok string) (run string, link int, ok bool) {
	payload, sig, found := strings.Cut(strings.TrimSpace(tok), ".")
	if !found || len(tok) > MaxContinuationLen {
		return "", 0, false
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(payload)) {
		return "", 0, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	var c continuation
	if err != nil || json.Unmarshal(b, &c) != nil {
		return "", 0, false
	}
	return c.Run, c.Link, true
}

// open verifies tok and checks it against want. Every error says why the
// token is refused; none repeats the token.
func (s sealer) open(tok string, want binding, now time.Time) (continuation, error) {
	var c continuation
	if len(tok) > MaxContinuationLen {
		return c, fmt.Errorf("token is %d bytes, more than %d", len(tok), MaxContinuationLen)
	}
	payload, sig, ok := strings.Cut(strings.TrimSpace(tok), ".")
	if !ok {
		return c, errors.New("not a continuation token of this version (no signature)")
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(payload)) {
		return c, errors.New(errForeignKey)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return c, errors.New("not a continuation token (bad encoding)")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, errors.New("not a continuation token (bad content)")
	}
	issued := time.Unix(c.Issued, 0)
	// What the request asks for must be what the token continues (refused
	// as invalid) before the token is judged stale: a stale token restarts
	// its target's sweep, so it must be the same kind of sweep.
	switch {
	case c.V != continuationVersion:
		return c, fmt.Errorf("token version %d, want %d", c.V, continuationVersion)
	case c.Mode != want.mode:
		return c, fmt.Errorf("the token resumes a %q request, not %q", c.Mode, want.mode)
	case c.DryRun != want.dryRun:
		return c, fmt.Errorf("the token resumes a request with dry_run=%t, not %t", c.DryRun, want.dryRun)
	case c.Link < 0 || c.Link > 0 && c.Run == "" || c.Run != "" && c.Link < 2:
		return c, fmt.Errorf("bad run link %d", c.Link)
	case want.run != "" && (c.Run != want.run || c.Link != want.link):
		return c, fmt.Errorf("it starts link %d of run %q, not link %d of run %q", c.Link, c.Run, want.link, want.run)
	case want.target != "" && c.Target != "" && c.Target != want.target:
		return c, fmt.Errorf("it continues the sweep of target %s, not of %s", c.Target, want.target)
	case c.Base < 0 || c.Base > c.Link:
		return c, fmt.Errorf("bad chain base %d", c.Base)
	case c.Scope != want.scope:
		return c, staleError{fmt.Sprintf("the token continues a request on %q, not on %q", c.Scope, want.scope)}
	case c.Policy != want.policy:
		return c, staleError{"the token was issued under another policy set: the policies changed since; start a new request"}
	case now.Sub(issued) > s.ttl:
		return c, staleError{fmt.Sprintf("the token was issued %s ago, more than %s: start a new request", now.Sub(issued).Round(time.Second), s.ttl)}
	case issued.Sub(now) > time.Minute:
		return c, errors.New("the token was issued in the future")
	case c.Mode == ModeKeys && (c.List || c.Cursor != ""):
		return c, errors.New("a key request has no listing to resume")
	case !c.List && c.Cursor != "":
		return c, errors.New("listing position without a listing")
	case !c.List && len(c.IDs) == 0:
		return c, errors.New("the token has nothing left to do")
	case c.Stalls < 0 || c.Stalls >= maxStalls:
		return c, fmt.Errorf("bad stall count %d", c.Stalls)
	}
	ids := make(map[string]bool, len(c.IDs))
	for _, id := range c.IDs {
		if id == "" {
			return c, errors.New("empty key id")
		}
		ids[id] = true
	}
	for id := range c.Touched {
		if !ids[id] {
			return c, fmt.Errorf("written tags of key %q, which is not to be resumed", id)
		}
	}
	return c, nil
}
