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
func EachKey(r io.Reader, header func(handler.Report) error, fn func(handler.KeyReport) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	dec := json.NewDecoder(br)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("a report is a JSON object: %v", errOr(err, "not an object"))
	}
	// The fields but keys are gathered into one object, decoded as a
	// report at the end (they are small).
	rest := map[string]json.RawMessage{}
	for dec.More() {
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
