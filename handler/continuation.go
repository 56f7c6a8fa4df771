package handler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// continuationVersion is the version of the continuation token format.
const continuationVersion = 1

// maxContinuationLen bounds a token accepted from outside.
const maxContinuationLen = 64 << 10

// continuation is the state a token carries. Its JSON field names are short
// because the token travels in events and URLs.
//
// A sweep is resumed from Cursor (the start of the page that was being
// worked on) skipping its first Done records, which were all finished: the
// handler dispatches a page's records in order and waits for every
// dispatched record before it stops, so the finished records are a prefix.
// LastID is the id of the last of them, a check that the page did not move.
// IDs are keys to read fresh and process first: in a sweep, keys whose
// processing was interrupted (access denied, context cancelled); in a key
// request, the keys not yet processed.
type continuation struct {
	V      int      `json:"v"`
	Mode   Mode     `json:"m"`
	DryRun bool     `json:"d,omitempty"`
	IDs    []string `json:"k,omitempty"`
	List   bool     `json:"l,omitempty"` // the listing is not finished
	Cursor string   `json:"c,omitempty"`
	Done   int      `json:"n,omitempty"`
	LastID string   `json:"i,omitempty"`
	// Touched holds, for keys in IDs whose tag writes were cut short (their
	// outcome unknown), the values the tags they were changing had before:
	// tag key -> value, null for a tag that did not exist. The resumed
	// request recognises a write that did land from it, and reports the
	// change as the uncut request would have.
	Touched map[string]map[string]*string `json:"t,omitempty"`
}

func (c continuation) encode() string {
	b, err := json.Marshal(c)
	if err != nil { // cannot happen: plain strings and ints
		panic(fmt.Sprintf("encode continuation: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeContinuation parses and checks a token against the request it came with.
func decodeContinuation(tok string, mode Mode, dryRun bool) (continuation, error) {
	var c continuation
	if len(tok) > maxContinuationLen {
		return c, fmt.Errorf("token is %d bytes, more than %d", len(tok), maxContinuationLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return c, errors.New("not a continuation token (bad encoding)")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errors.New("not a continuation token (bad content)")
	}
	switch {
	case c.V != continuationVersion:
		return c, fmt.Errorf("token version %d, want %d", c.V, continuationVersion)
	case c.Mode != mode:
		return c, fmt.Errorf("token resumes a %q request, not %q", c.Mode, mode)
	case c.DryRun != dryRun:
		return c, fmt.Errorf("token resumes a request with dry_run=%t, not %t", c.DryRun, dryRun)
	case c.Done < 0:
		return c, fmt.Errorf("negative record count %d", c.Done)
	case c.Mode == ModeKeys && c.List:
		return c, errors.New("a key request has no listing to resume")
	case !c.List && (c.Cursor != "" || c.Done != 0 || c.LastID != ""):
		return c, errors.New("listing position without a listing")
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
