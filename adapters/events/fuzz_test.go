package events_test

import (
	"errors"
	"os"
	"path/filepath"
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
		if len(req.KeyIDs) == 0 {
			t.Fatal("mode keys without key ids")
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
		if !events.ValidKeyID(id) || seen[id] {
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
		if tr.KeyID != "" && !events.ValidKeyID(tr.KeyID) {
			t.Fatalf("invalid key id %q", tr.KeyID)
		}
		checkResult(t, tr.Request("cts"), nil)
	})
}
