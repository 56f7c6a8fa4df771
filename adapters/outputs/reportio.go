package outputs

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tagwarden/tagwarden/handler"
)

// spool is an object written to a temporary file before it is stored: its
// size is then known and a retry can read it again, and memory does not
// hold it. Close removes the file.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	size int64
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "tagwarden-output-*")
	if err != nil {
		return nil, fmt.Errorf("temporary file: %w", err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (s *spool) Write(p []byte) (int, error) { return s.w.Write(p) }

// finish flushes the file and rewinds it for reading.
func (s *spool) finish() (io.ReadSeeker, int64, error) {
	if err := s.w.Flush(); err != nil {
		return nil, 0, err
	}
	end, err := s.f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	s.size = end
	return s.f, end, nil
}

func (s *spool) Close() error {
	name := s.f.Name()
	err := s.f.Close()
	os.Remove(name)
	return err
}

// writeGzipJSON encodes v as JSON, gzip-compressed, into w, streaming.
func writeGzipJSON(w io.Writer, v any) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return err
	}
	return zw.Close()
}

// EachKey reads a stored report (JSON, gzip-compressed when it starts
// with gzip's magic) and calls fn with its counts-free header and then
// each key entry, one at a time: memory holds one entry, whatever the
// report's size. The header is the report without its keys.
//
// What it reads is bounded: MaxReportBytes in all, MaxEntryBytes for one
// key entry or header field (a decoder holds one value whole), so that an
// object that is not one tagwarden wrote (a compressed bomb, one huge
// value) is an error, not the invocation's memory or time.
func EachKey(r io.Reader, header func(handler.Report) error, fn func(handler.KeyReport) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	lim := &boundedReader{r: in, total: MaxReportBytes, window: MaxEntryBytes, what: "report"}
	dec := json.NewDecoder(bufio.NewReaderSize(lim, 64<<10))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("a report is a JSON object: %v", errOr(err, "not an object"))
	}
	// The fields but keys are gathered into one object, decoded as a
	// report at the end (they are small).
	rest := map[string]json.RawMessage{}
	for dec.More() {
		lim.next()
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if name != "keys" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
			rest[name] = raw
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		if tok == nil {
			continue // "keys": null
		}
		if tok != json.Delim('[') {
			return errors.New(`"keys" is not an array`)
		}
		for dec.More() {
			lim.next()
			var kr handler.KeyReport
			if err := dec.Decode(&kr); err != nil {
				return fmt.Errorf("key entry: %w", err)
			}
			if err := fn(kr); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return err
		}
	}
	if header == nil {
		return nil
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	var rep handler.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return header(rep)
}

func errOr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// MaxReportBytes bounds the decompressed bytes of a stored report read
// back: a 100,000-key report is about 100 MB of JSON.
const MaxReportBytes = 2 << 30

// MaxEntryBytes bounds one key entry of a stored report read back (and
// one of its other fields): an entry tagwarden writes is a few KB.
const MaxEntryBytes = 8 << 20

// boundedReader fails a read past total bytes in all, or past window
// bytes since next was last called (a decoder reads ahead by its buffer,
// so the window is approximate by that much).
//
// Written here: io.LimitReader ends quietly at its limit, which a decoder
// takes as a truncated object, and has no per-value window.
type boundedReader struct {
	r             io.Reader
	total, window int64
	n, w          int64
	what          string
}

func (b *boundedReader) next() { b.w = 0 }

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n >= b.total {
		return 0, fmt.Errorf("the %s is larger than %d bytes decompressed: not read", b.what, b.total)
	}
	if b.window > 0 && b.w >= b.window {
		return 0, fmt.Errorf("a value of the %s is larger than %d bytes: not read", b.what, b.window)
	}
	if rest := b.total - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.w += int64(n)
	return n, err
}
