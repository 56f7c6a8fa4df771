package main

// Strict reading of JSON files a person may have edited (saved plans): the
// shape of the document is checked against the Go type it decodes into,
// and every problem is reported at file:line:column.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fileError is a problem at one place of a file.
type fileError struct {
	File   string
	Line   int   // from 1
	Col    int   // from 1, in characters
	Offset int64 // in bytes, from 0
	Msg    string
}

func (e *fileError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// errorAt builds the error of a problem at byte offset off of data.
func errorAt(file string, data []byte, off int64, format string, args ...any) *fileError {
	off = min(max(off, 0), int64(len(data)))
	// A line ends at \n, \r\n or a lone \r (old Mac files), as editors count.
	line, start := 1, 0
	for i := 0; i < int(off); i++ {
		switch {
		case data[i] == '\n':
			line, start = line+1, i+1
		case data[i] == '\r' && (i+1 >= len(data) || data[i+1] != '\n'):
			line, start = line+1, i+1
		}
	}
	return &fileError{
		File:   file,
		Line:   line,
		Col:    1 + utf8.RuneCount(data[start:off]),
		Offset: off,
		Msg:    fmt.Sprintf(format, args...),
	}
}

// jsonPath names a value of a JSON document: object member names and array
// indexes, as in keys[3].create[0].value.
type jsonPath []any

func (p jsonPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		}
	}
	if b.Len() == 0 {
		return "the document"
	}
	return b.String()
}

// with returns p extended by e, sharing nothing with p.
func (p jsonPath) with(e ...any) jsonPath {
	return append(append(jsonPath(nil), p...), e...)
}

// syntaxError returns where data stops being one JSON value, or nil: the
// position of an invalid character, the end of a truncated document, or
// what follows the value.
func syntaxError(file string, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errorAt(file, data, int64(len(data)), "the file is empty")
	}
	err := json.Unmarshal(data, new(json.RawMessage))
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Offset >= int64(len(data)):
		return errorAt(file, data, int64(len(data)), "the file ends in the middle of the JSON (truncated?)")
	case errors.As(err, &se):
		// Offset is just past the offending byte.
		return errorAt(file, data, se.Offset-1, "not valid JSON: %s", strings.TrimPrefix(se.Error(), "json: "))
	}
	return errorAt(file, data, 0, "not valid JSON: %v", err)
}

// shapeError is a value of the wrong shape for its Go type.
type shapeError struct {
	off int64
	msg string
}

func (e *shapeError) Error() string { return e.msg }

// errFound stops a walk.
var errFound = errors.New("found")

// walker visits the values of a JSON document with a json.Decoder's
// tokens, checking each against the Go type it decodes into (nil: any).
// The document must be valid JSON (see syntaxError).
type walker struct {
	data  []byte
	dec   *json.Decoder
	path  jsonPath
	visit func(path jsonPath, off int64) bool // true stops the walk (errFound)
}

func newWalker(data []byte, visit func(jsonPath, int64) bool) *walker {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &walker{data: data, dec: dec, visit: visit}
}

// next returns the offset of the next token: past white space, ':' and ','.
func (w *walker) next() int64 {
	off := w.dec.InputOffset()
	for off < int64(len(w.data)) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// value walks one value that decodes into t.
func (w *walker) value(t reflect.Type) error {
	off := w.next()
	if w.visit != nil && w.visit(w.path, off) {
		return errFound
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return &shapeError{off: off, msg: w.path.String() + ": " + fmt.Sprintf(format, args...)}
	}
	if tok == nil {
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return nil
		}
		return bad("null, want %s", describeType(t))
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			if t != nil && t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
				return bad("an object, want %s", describeType(t))
			}
			return w.object(t)
		}
		if t != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return bad("an array, want %s", describeType(t))
		}
		var elem reflect.Type
		if t != nil {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			w.path = append(w.path, i)
			if err := w.value(elem); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
		_, err := w.dec.Token() // ]
		return err
	case string:
		if t != nil && t.Kind() != reflect.String {
			return bad("a string, want %s", describeType(t))
		}
	case bool:
		if t != nil && t.Kind() != reflect.Bool {
			return bad("%t, want %s", tok, describeType(t))
		}
	case json.Number:
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(tok.String(), 10, t.Bits()); err != nil {
				return bad("%s, want a whole number", tok)
			}
		case reflect.Float32, reflect.Float64:
		default:
			return bad("the number %s, want %s", tok, describeType(t))
		}
	}
	return nil
}

// object walks an object's members after its '{'.
func (w *walker) object(t reflect.Type) error {
	seen := map[string]bool{}
	for w.dec.More() {
		off := w.next()
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		here := w.path.with(name)
		if seen[name] {
			return &shapeError{off: off, msg: fmt.Sprintf("%s: given twice", here)}
		}
		seen[name] = true
		var ft reflect.Type
		if t != nil {
			if t.Kind() == reflect.Map {
				ft = t.Elem()
			} else if ft = jsonField(t, name); ft == nil {
				in := "the document"
				if len(w.path) > 0 {
					in = w.path.String()
				}
				return &shapeError{off: off, msg: fmt.Sprintf("%s: unknown field %q (fields: %s)", in, name, strings.Join(jsonFields(t), ", "))}
			}
		}
		w.path = append(w.path, name)
		if err := w.value(ft); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
	_, err := w.dec.Token() // }
	return err
}

// jsonName is the name a struct field takes in JSON, or "" when it takes
// none.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// jsonField returns the type of t's field named name in JSON (exactly, not
// in any case as encoding/json would), or nil.
func jsonField(t reflect.Type, name string) reflect.Type {
	for i := range t.NumField() {
		if f := t.Field(i); jsonName(f) == name {
			return f.Type
		}
	}
	return nil
}

// jsonFields lists t's field names in JSON.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// checkShape checks that data, valid JSON, has the shape of v's type:
// every member known (by its exact name) and given once, every value of
// its field's kind. It returns the first problem at its place.
func checkShape(file string, data []byte, v any) error {
	w := newWalker(data, nil)
	err := w.value(reflect.TypeOf(v))
	var se *shapeError
	if errors.As(err, &se) {
		return errorAt(file, data, se.off, "%s", se.msg)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return errorAt(file, data, w.dec.InputOffset(), "not valid JSON: %v", err)
	}
	return nil
}

// valueOffset returns where the value at path starts in data (valid JSON),
// or, when there is no such value, where its nearest ancestor does.
func valueOffset(data []byte, path jsonPath) int64 {
	return valueOffsets(data, []jsonPath{path})[0]
}

// valueOffsets is valueOffset for several paths, in one walk of data.
func valueOffsets(data []byte, paths []jsonPath) []int64 {
	want := map[string]bool{}
	for _, p := range paths {
		for i := range len(p) + 1 {
			want[p[:i].String()] = true
		}
	}
	found := map[string]int64{}
	w := newWalker(data, func(p jsonPath, off int64) bool {
		if s := p.String(); want[s] {
			found[s] = off
		}
		return false
	})
	w.value(nil) //nolint:errcheck // data is valid JSON: the walk ends at its end
	out := make([]int64, len(paths))
	for i, p := range paths {
		for n := len(p); n >= 0; n-- {
			if off, ok := found[p[:n].String()]; ok {
				out[i] = off
				break
			}
		}
	}
	return out
}
