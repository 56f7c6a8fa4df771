package outputs

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// FindingID is a finding's id as the state keeps it: 8 bytes (a finding's
// ID is their hex form). A state of 100,000 findings then holds 100,000
// small fixed keys, not strings.
type FindingID [8]byte

// ParseFindingID returns the id of a Finding.ID.
func ParseFindingID(s string) (FindingID, error) {
	var id FindingID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("finding id %q: want %d hex digits", s, 2*len(id))
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// String is the id's hex form.
func (id FindingID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText writes the hex form (the state's JSON keys).
func (id FindingID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads the hex form.
func (id *FindingID) UnmarshalText(b []byte) error {
	v, err := ParseFindingID(string(b))
	*id = v
	return err
}

// writeState writes st as gzip-compressed JSON, one entry at a time:
// memory holds no encoded copy of the state, whatever its size.
func writeState(w io.Writer, st State) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 32<<10)
	head, err := json.Marshal(struct {
		Run     string `json:"run"`
		Pending string `json:"pending,omitempty"`
	}{st.Run, st.Pending})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1]) // without its closing brace
	bw.WriteString(`,"findings":{`)
	first := true
	var num []byte
	for id, e := range st.Findings {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteByte('"')
		bw.WriteString(id.String())
		bw.WriteString(`":{"f":`)
		num = strconv.AppendInt(num[:0], e.First, 10)
		bw.Write(num)
		if e.Notified != 0 {
			bw.WriteString(`,"n":`)
			num = strconv.AppendInt(num[:0], e.Notified, 10)
			bw.Write(num)
		}
		if e.P != 0 {
			bw.WriteString(`,"p":`)
			num = strconv.AppendInt(num[:0], e.P, 10)
			bw.Write(num)
		}
		bw.WriteByte('}')
	}
	bw.WriteString("}}\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// readState reads a state written by writeState (or any JSON encoding of
// State, compressed or not), one entry at a time.
func readState(r io.Reader) (State, error) {
	st := State{Findings: map[FindingID]StateEntry{}}
	br := bufio.NewReaderSize(r, 32<<10)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, err
		}
		defer zr.Close()
		in = zr
	}
	dec := json.NewDecoder(bufio.NewReaderSize(&boundedReader{r: in, total: maxStateBytes, what: "state"}, 32<<10))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return st, errors.New("a state is a JSON object")
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return st, err
		}
		switch tok {
		case "run":
			err = dec.Decode(&st.Run)
		case "pending":
			err = dec.Decode(&st.Pending)
		case "findings":
			err = readEntries(dec, st.Findings)
			found = true
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return st, fmt.Errorf("state %v: %w", tok, err)
		}
	}
	if !found {
		return st, errors.New(`not a state: no "findings"`)
	}
	return st, nil
}

// maxClockSkew is how far ahead of the clock (seconds) a time read back
// from a state may be and still be taken as past.
const maxClockSkew = 3600

// pastOnly takes the times of st that are to come (a clock far ahead, an
// edited state) as no record of the past: a finding notified "later" is
// due now, not silenced until then (notified, but long ago: not new
// either), and one first seen "later" was first seen now.
func (st *State) pastOnly(now time.Time) {
	limit := now.Unix() + maxClockSkew
	for id, e := range st.Findings {
		if e.Notified <= limit && e.First <= limit {
			continue
		}
		if e.Notified > limit {
			e.Notified = 1
		}
		if e.First > limit {
			e.First = now.Unix()
		}
		st.Findings[id] = e
	}
}

// maxStateEntries bounds the findings a state read back may hold (about
// 60 bytes of memory each): a state past it (not one this package wrote
// for a run's findings, bounded by the keys it could decide) is refused.
const maxStateEntries = 500000

// maxStateBytes bounds the decompressed bytes of a state read back:
// maxStateEntries entries of about 60 bytes each, with room.
const maxStateBytes = 64 << 20

func readEntries(dec *json.Decoder, into map[FindingID]StateEntry) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return errors.New("findings is not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		id, err := ParseFindingID(key)
		if err != nil {
			return err
		}
		var e StateEntry
		if err := dec.Decode(&e); err != nil {
			return err
		}
		if len(into) >= maxStateEntries {
			return fmt.Errorf("more than %d findings", maxStateEntries)
		}
		into[id] = e
	}
	_, err = dec.Token() // }
	return err
}
