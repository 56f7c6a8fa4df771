package obsemu_test

import (
	"bufio"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
)

// FuzzServeHTTP feeds the emulator arbitrary requests, as net/http would
// parse them: it never panics, never serves a request it cannot verify
// (no signature can be guessed), and answers every error with OBS's XML
// body (none for HEAD).
func FuzzServeHTTP(f *testing.F) {
	f.Add("GET", "/reports-bucket/k", "Authorization", "AWS "+obsemu.DefaultAK+":abc=", "")
	f.Add("PUT", "/reports-bucket/a%20b?acl", "Content-Length", "3", "abc")
	f.Add("HEAD", "/reports-bucket", "Date", "Tue, 27 Mar 2007 19:36:42 GMT", "")
	f.Add("PUT", "/x/%FF", "Authorization", "OBS a:b", "")
	f.Add("DELETE", "/", "x-obs-security-token", "t", "")
	f.Add("GET", "/b/k?x=%ZZ", "Host", "b.obs.local", "")
	f.Fuzz(func(t *testing.T, method, uri, name, value, body string) {
		raw := method + " " + uri + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + name + ": " + value + "\r\n"
		if body != "" {
			raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		raw += "\r\n" + body
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		s, err := obsemu.New(obsemu.Options{Buckets: []string{"reports-bucket"}, Domain: "obs.local"})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code < 300 || w.Code > 599 {
			t.Fatalf("%q: status %d", raw, w.Code)
		}
		if w.Header().Get("x-obs-request-id") == "" {
			t.Fatalf("%q: no request id", raw)
		}
		if r.Method == http.MethodHead {
			return
		}
		var e struct {
			Code, Message, RequestId string
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.RequestId == "" {
			t.Fatalf("%q: body %q: %v", raw, w.Body.String(), err)
		}
	})
}
