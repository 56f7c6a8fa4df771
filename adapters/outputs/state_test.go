package outputs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
)

// TestStateRoundTrip: a state written entry by entry reads back equal,
// compressed or as plain JSON.
func TestStateRoundTrip(t *testing.T) {
	st := State{Run: "r1", Pending: "r0", Findings: map[FindingID]StateEntry{}}
	for i := range 1000 {
		var id FindingID
		id[0], id[1] = byte(i), byte(i>>8)
		st.Findings[id] = StateEntry{First: int64(1700000000 + i), Notified: int64(i % 3 * 1700000100), P: int64(i % 2)}
	}
	var b bytes.Buffer
	if err := writeState(&b, st); err != nil {
		t.Fatal(err)
	}
	got, err := readState(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got, cmp.AllowUnexported(StateEntry{})); diff != "" {
		t.Errorf("state read back (-wrote +read):\n%s", diff)
	}
	plain := `{"run":"r2","findings":{"0011223344556677":{"f":1,"n":2}},"extra":[1,2]}`
	got, err = readState(strings.NewReader(plain))
	if err != nil || got.Run != "r2" || got.Findings[FindingID{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}].Notified != 2 {
		t.Errorf("plain state: %+v, %v", got, err)
	}
	for _, bad := range []string{``, `[]`, `{"findings":{"not-hex":{"f":1}}}`, `{"findings":[1]}`, `{"run":5}`} {
		if _, err := readState(strings.NewReader(bad)); err == nil {
			t.Errorf("readState(%q): no error", bad)
		}
	}
}

// FuzzReadState: a stored state is outside input: reading any bytes
// returns a state or an error, never a panic.
func FuzzReadState(f *testing.F) {
	var b bytes.Buffer
	writeState(&b, State{Run: "r", Findings: map[FindingID]StateEntry{{1}: {First: 1}}})
	f.Add(b.Bytes())
	f.Add([]byte(`{"run":"r","findings":{"0011223344556677":{"f":1}}}`))
	f.Add([]byte(`{"findings":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		readState(bytes.NewReader(data)) //nolint:errcheck // only a panic fails
	})
}

// FuzzEachKey: a stored report is outside input: EachKey returns its
// entries or an error, never a panic.
func FuzzEachKey(f *testing.F) {
	var b bytes.Buffer
	writeGzipJSON(&b, handler.Report{Mode: handler.ModeSweep, Keys: []handler.KeyReport{{KeyID: "k1", Outcome: handler.OutcomeFailed}}})
	f.Add(b.Bytes())
	f.Add([]byte(`{"mode":"sweep","keys":[{"key_id":"k"}],"scanned":1}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		EachKey(bytes.NewReader(data), func(handler.Report) error { return nil }, func(handler.KeyReport) error { return nil }) //nolint:errcheck // only a panic fails
	})
}
