package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// epoch is the fixed time of every entry without SOURCE_DATE_EPOCH.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "zipbuild: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stderr io.Writer) error {
	fset := flag.NewFlagSet("zipbuild", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("o", "", "the zip file to write")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: zipbuild -o OUT.zip FOLDER")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *out == "" || fset.NArg() != 1 {
		fset.Usage()
		return errors.New("want -o OUT.zip and one folder")
	}
	mtime, err := modTime(getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	return writeFile(*out, fset.Arg(0), mtime)
}

// modTime is the time of every entry.
func modTime(sourceDateEpoch string) (time.Time, error) {
	if sourceDateEpoch == "" {
		return epoch, nil
	}
	n, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil || n < epoch.Unix() {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970, from 1980 on", sourceDateEpoch)
	}
	return time.Unix(n, 0).UTC(), nil
}

// writeFile writes the archive of dir to out through a temporary file.
func writeFile(out, dir string, mtime time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".zipbuild-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, dir, mtime); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// entry is one file or folder to archive.
type entry struct {
	name string // slash-separated, relative; folders end in "/"
	path string
	mode fs.FileMode
}

// Write archives the files under dir into w: see the package comment.
func Write(w io.Writer, dir string, mtime time.Time) error {
	var entries []entry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, entry{name: name + "/", mode: fs.ModeDir | 0o755})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			entries = append(entries, entry{name: name, path: path, mode: mode})
		default:
			return fmt.Errorf("%s: not a regular file or folder (%s)", path, d.Type())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("read %s: no files", dir)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Modified: mtime, Method: zip.Deflate}
		if strings.HasSuffix(e.name, "/") {
			h.Method = zip.Store
		}
		h.SetMode(e.mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("add %s: %w", e.name, err)
		}
		if e.path == "" {
			continue
		}
		if err := copyFile(fw, e.path); err != nil {
			return fmt.Errorf("add %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish the zip: %w", err)
	}
	return nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
