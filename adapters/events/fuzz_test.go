package events_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

// seed adds every fixture of testdata/ to the corpus.
func seed(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, in := range deepInputs() {
		f.Add([]byte(in.payload))
	}
}

// checkResult asserts what every decoder promises: an error wraps
// ErrInvalid and stays short; a request has a known mode and valid, unique
// key ids.
func checkResult(t *testing.T, req handler.Request, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, events.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		if n := len(err.Error()); n > 4000 {
			t.Fatalf("error message of %d bytes", n)
		}
		return
	}
	switch req.Mode {
	case handler.ModeSweep, handler.ModeIgnore:
		if len(req.KeyIDs) != 0 {
			t.Fatalf("mode %s with key ids %v", req.Mode, req.KeyIDs)
		}
	case handler.ModeKeys:
		// A resumed check takes its keys from the continuation.
		if len(req.KeyIDs) == 0 && req.Continuation == "" {
			t.Fatal("mode keys without key ids or a continuation")
		}
	default:
		t.Fatalf("unknown mode %q", req.Mode)
	}
	if req.Mode == handler.ModeIgnore && req.Reason == "" {
		t.Fatal("ignore without a reason")
	}
	if req.Trigger == "" {
		t.Fatal("no trigger")
	}
	seen := map[string]bool{}
	for _, id := range req.KeyIDs {
		if handler.ValidKeyID(id) != nil || seen[id] {
			t.Fatalf("bad or duplicate key id %q in %v", id, req.KeyIDs)
		}
		seen[id] = true
	}
}

func FuzzDecode(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := events.Decode(data)
		checkResult(t, req, err)
	})
}

func FuzzParseManual(f *testing.F) {
	seed(f)
	f.Add([]byte(`{"action":"check","key_ids":["a","b","a"],"dry_run":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := events.ParseManual(data)
		checkResult(t, req, err)
		if err == nil && req.Mode == handler.ModeIgnore {
			t.Fatal("the manual payload never ignores")
		}
	})
}

func FuzzParseTrace(f *testing.F) {
	seed(f)
	f.Add([]byte(`{"trace_name":"createKey","resource_id":"{\"key_id\":\"k-1\"}","code":"2e2","time":1e300}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := events.ParseTrace(data)
		if err != nil {
			checkResult(t, handler.Request{}, err)
			return
		}
		if tr.KeyID != "" && handler.ValidKeyID(tr.KeyID) != nil {
			t.Fatalf("invalid key id %q", tr.KeyID)
		}
		checkResult(t, tr.Request("cts"), nil)
	})
}

// deepInput is a payload nesting objects and arrays past events.MaxDepth,
// at some place a decoder reads.
type deepInput struct {
	name    string
	payload string
	// top: the payload itself nests too deep, not only a string inside it.
	top bool
}

// nest returns n arrays, one inside the other.
func nest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// quoted returns s as a JSON string.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// deepInputs are 100,000-deep payloads: bare, as a field's value, and inside
// the JSON-encoded strings and base64 data the decoders unwrap.
func deepInputs() []deepInput {
	const n = 100_000
	deep := nest(n)
	return []deepInput{
		{"bare arrays", deep, true},
		{"bare objects", strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n), true},
		{"unclosed", strings.Repeat("[", n), true},
		{"manual field", `{"action":"check","key_ids":` + deep + `}`, true},
		{"cts trace", `{"cts":` + deep + `}`, true},
		{"cts trace as a string", `{"cts":` + quoted(deep) + `}`, false},
		{"bare trace", `{"trace_name":"createKey","request":` + deep + `}`, true},
		{"timer user_event string", `{"trigger_type":"TIMER","user_event":` + quoted(`{"action":`+deep+`}`) + `}`, false},
		{"cloud event data string", `{"specversion":"1.0","id":"e1","data":` + quoted(deep) + `}`, false},
		{"cloud event data_base64", `{"specversion":"1.0","id":"e1","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(deep)) + `"}`, false},
		{"batch", `{"events":[` + deep + `]}`, true},
		{"scheduled detail", `{"detail-type":"Scheduled Event","source":"aws.events","detail":{"dry_run":` + deep + `}}`, true},
	}
}
