package main

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tree writes files (name -> content; a trailing "*" in the name marks an
// executable) under a new folder.
func tree(t *testing.T, files map[string]string, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		mode := fs.FileMode(0o600)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o700
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var files = map[string]string{
	"bootstrap*":           "\x7fELF pretend binary",
	"policies/owner.yaml":  "policies: []\n",
	"policies/a/deep.yaml": "x: 1\n",
	"README":               "hello",
}

func TestWriteReproducible(t *testing.T) {
	// Same files, different times, permissions and creation order.
	a := tree(t, files, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	b := tree(t, files, time.Now())
	if err := os.Chmod(filepath.Join(b, "README"), 0o640); err != nil {
		t.Fatal(err)
	}
	var za, zb bytes.Buffer
	if err := Write(&za, a, epoch); err != nil {
		t.Fatal(err)
	}
	if err := Write(&zb, b, epoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(za.Bytes(), zb.Bytes()) {
		t.Fatal("two archives of the same files differ")
	}

	zr, err := zip.NewReader(bytes.NewReader(za.Bytes()), int64(za.Len()))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Mode    fs.FileMode
		Content string
	}
	entries := map[string]got{}
	var order []string
	for _, f := range zr.File {
		order = append(order, f.Name)
		if !f.Modified.Equal(epoch) {
			t.Errorf("%s: time %v, want %v", f.Name, f.Modified, epoch)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		entries[f.Name] = got{f.Mode(), string(data)}
	}
	want := map[string]got{
		"README":               {0o644, "hello"},
		"bootstrap":            {0o755, "\x7fELF pretend binary"},
		"policies/":            {fs.ModeDir | 0o755, ""},
		"policies/a/":          {fs.ModeDir | 0o755, ""},
		"policies/a/deep.yaml": {0o644, "x: 1\n"},
		"policies/owner.yaml":  {0o644, "policies: []\n"},
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries mismatch (-want +got):\n%s", diff)
	}
	wantOrder := []string{"README", "bootstrap", "policies/", "policies/a/", "policies/a/deep.yaml", "policies/owner.yaml"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("order mismatch (-want +got):\n%s", diff)
	}
}

func TestRun(t *testing.T) {
	dir := tree(t, files, time.Now())
	out := filepath.Join(t.TempDir(), "f.zip")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"ok", []string{"-o", out, dir}, nil, ""},
		{"source date epoch", []string{"-o", out, dir}, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, ""},
		{"bad source date epoch", []string{"-o", out, dir}, map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, "SOURCE_DATE_EPOCH"},
		{"no output", []string{dir}, nil, "want -o OUT.zip and one folder"},
		{"empty folder", []string{"-o", out, t.TempDir()}, nil, "no files"},
		{"missing folder", []string{"-o", out, filepath.Join(dir, "nope")}, nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := zip.OpenReader(out); err != nil {
				t.Fatalf("the output is not a zip: %v", err)
			}
		})
	}
}

func TestSymlinkRefused(t *testing.T) {
	dir := tree(t, map[string]string{"a": "x"}, time.Now())
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := Write(io.Discard, dir, epoch); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("got %v, want a symlink refused", err)
	}
}
