// Package handlertest reads a handler's reports and logs in tests: the
// report's counts and their check, key reports by id, and a buffer of the
// JSON log lines. The handler's tests (on handler/memstore) and the
// end-to-end tests (adapters/huaweikms/e2e) share it.
package handlertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
)

// Counts shows a report's counts, error and continuation, not its keys.
func Counts(r handler.Report) string {
	return fmt.Sprintf("scanned %d compliant %d changed %d planned %d violating %d failed %d skipped %d; error %q; reason %q; continuation %t",
		r.Scanned, r.Compliant, r.Changed, r.Planned, r.Violating, r.Failed, r.Skipped, r.Error, r.Reason, r.Continuation != "")
}

// CheckCounts checks that every scanned key counts once in a report, and
// that the report lists every key that was not compliant, and no compliant
// key but one an exemption entry names.
func CheckCounts(t testing.TB, r handler.Report) {
	t.Helper()
	sum := r.Compliant + r.Changed + r.Planned + r.Violating + r.Failed + r.Skipped
	if sum != r.Scanned {
		t.Errorf("outcome counts add to %d, scanned %d: %s", sum, r.Scanned, Counts(r))
	}
	notCompliant := 0
	for _, kr := range r.Keys {
		switch {
		case kr.Outcome != handler.OutcomeCompliant:
			notCompliant++
		case len(kr.Exemptions) == 0:
			t.Errorf("report lists compliant key %s, which no exemption names", kr.KeyID)
		}
	}
	if want := r.Scanned - r.Compliant; notCompliant != want {
		t.Errorf("report lists %d keys not compliant, want %d (every key not compliant)", notCompliant, want)
	}
}

// ByID indexes key reports by key id.
func ByID(keys []handler.KeyReport) map[string]handler.KeyReport {
	m := map[string]handler.KeyReport{}
	for _, k := range keys {
		m[k.KeyID] = k
	}
	return m
}

// LogBuffer collects log lines, safe for concurrent writes.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns every line written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Entries decodes the JSON log lines.
func (b *LogBuffer) Entries(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// KeyDecisions counts the key decision entries (those with an outcome)
// per key id.
func (b *LogBuffer) KeyDecisions(t testing.TB) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range b.Entries(t) {
		if _, ok := e["outcome"]; ok {
			n[e["key_id"].(string)]++
		}
	}
	return n
}

// JSONLogger logs JSON lines, from level up, into the buffer it returns.
func JSONLogger(level logrus.Level) (*logrus.Logger, *LogBuffer) {
	logs := &LogBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetLevel(level)
	return log, logs
}
