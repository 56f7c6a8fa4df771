package huaweiobs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
)

const bucket = "tagwarden-reports"

// emulator serves a local OBS with bucket until the test ends.
func emulator(t *testing.T, opts obsemu.Options) (*obsemu.Server, string) {
	t.Helper()
	if opts.Buckets == nil {
		opts.Buckets = []string{bucket}
	}
	s, err := obsemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := s.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ep
}

// emuCreds are the emulator's default credentials.
func emuCreds() *huaweikms.Credentials {
	return &huaweikms.Credentials{AccessKey: obsemu.DefaultAK, SecretKey: obsemu.DefaultSK}
}

func newStore(t *testing.T, c huaweiobs.Config) *huaweiobs.Store {
	t.Helper()
	if c.Bucket == "" {
		c.Bucket = bucket
	}
	if c.Credentials == nil {
		c.Credentials = emuCreds()
	}
	s, err := huaweiobs.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outErr is err as an *outputs.Error, or fails the test.
func outErr(t *testing.T, err error) *outputs.Error {
	t.Helper()
	var oe *outputs.Error
	if !errors.As(err, &oe) {
		t.Fatalf("got %v (%T), want an *outputs.Error", err, err)
	}
	if oe.Service != "obs" {
		t.Errorf("service %q", oe.Service)
	}
	return oe
}

func wantErr(t *testing.T, err error, op string, kind error, status int, code string) *outputs.Error {
	t.Helper()
	oe := outErr(t, err)
	if oe.Op != op || oe.Kind != kind || oe.Status != status || oe.Code != code || !errors.Is(err, kind) {
		t.Fatalf("got %+v (%v), want op %s kind %v status %d code %q", oe, oe, op, kind, status, code)
	}
	return oe
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s)) //nolint:errcheck // a buffer
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPutGetRoundTrip(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	ctx := context.Background()
	for _, prefix := range []string{"", "tagwarden/reports", "tagwarden/reports/"} {
		st := newStore(t, huaweiobs.Config{Endpoint: ep, Prefix: prefix})
		objects := []struct {
			key  string
			body []byte
			o    outputs.PutOptions
		}{
			{"runs/2024-05-01/run-1.json.gz", gzipped(t, `{"keys":3}`), outputs.PutOptions{ContentType: "application/json", ContentEncoding: "gzip"}},
			{"index.html", []byte("<html>ü</html>"), outputs.PutOptions{ContentType: "text/html; charset=utf-8"}},
			{"state/a b+c%.json", []byte("{}"), outputs.PutOptions{}},
		}
		for _, o := range objects {
			if err := st.Put(ctx, o.key, bytes.NewReader(o.body), int64(len(o.body)), o.o); err != nil {
				t.Fatalf("put %q: %v", o.key, err)
			}
			rc, err := st.Get(ctx, o.key)
			if err != nil {
				t.Fatalf("get %q: %v", o.key, err)
			}
			if got := readAll(t, rc); !bytes.Equal(got, o.body) {
				t.Errorf("get %q: %q, want the bytes stored (gzip ones not decompressed)", o.key, got)
			}
			full := strings.TrimSuffix(prefix, "/")
			if full != "" {
				full += "/"
			}
			full += o.key
			data, meta, ok := emu.Object(bucket, full)
			wantType := o.o.ContentType
			if wantType == "" {
				wantType = huaweiobs.DefaultContentType
			}
			if !ok || !bytes.Equal(data, o.body) || meta.ContentType != wantType || meta.ContentEncoding != o.o.ContentEncoding {
				t.Errorf("stored %q: %v %+v", full, ok, meta)
			}
			if w := st.Where(o.key); w != "obs://"+bucket+"/"+full {
				t.Errorf("Where(%q) = %q", o.key, w)
			}
		}
	}
	c := emu.Calls()
	if c.Ops[obsemu.OpPutObject] != 9 || c.Ops[obsemu.OpGetObject] != 9 || c.Status[200] != 18 {
		t.Errorf("calls %+v", c)
	}
}

// Path style by configuration (a host name, not an IP address) and
// virtual-hosted style (the bucket in the host), both signed with the
// SDK's default signature.
func TestAddressingStyles(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{Domain: "obs.emu.test"})
	addr := strings.TrimPrefix(ep, "http://")
	_, port, _ := net.SplitHostPort(addr)
	var hosts []string
	dial := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		hosts = append(hosts, a)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	for _, c := range []struct {
		name, endpoint, wantHost string
		path                     bool
	}{
		{"virtual-hosted", "http://obs.emu.test:" + port, bucket + ".obs.emu.test:" + port, false},
		{"path style", "http://localhost:" + port, "localhost:" + port, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			hosts = nil
			st := newStore(t, huaweiobs.Config{Endpoint: c.endpoint, PathStyle: c.path, Transport: dial})
			if err := st.Put(context.Background(), c.name, strings.NewReader("x"), 1, outputs.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := emu.Object(bucket, c.name); !ok || len(hosts) == 0 || hosts[0] != c.wantHost {
				t.Errorf("stored %v, dialled %q, want %q", ok, hosts, c.wantHost)
			}
		})
	}
}

// countingFile records the largest read asked of it.
type countingFile struct {
	*os.File
	maxRead, reads int
}

func (f *countingFile) Read(p []byte) (int, error) {
	f.reads++
	f.maxRead = max(f.maxRead, len(p))
	return f.File.Read(p)
}

// A 20 MB body streams from its file: the adapter, the SDK and net/http
// read it in small pieces and allocate far less than the body (the
// emulator, in the same process, allocates the body once to store it).
func TestPutStreamsLargeBody(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	const size = 20 << 20
	path := filepath.Join(t.TempDir(), "big.json")
	content := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	want := md5.Sum(content)
	content = nil
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil { // Put reads from the start whatever the offset
		t.Fatal(err)
	}
	cf := &countingFile{File: f}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = st.Put(context.Background(), "big.json", cf, size, outputs.PutOptions{ContentType: "application/json"})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	data, meta, ok := emu.Object(bucket, "big.json")
	if !ok || meta.Size != size || md5.Sum(data) != want {
		t.Fatalf("stored %v %+v", ok, meta)
	}
	if peak := emu.Calls().PeakPutBytes; peak != size {
		t.Errorf("peak PUT bytes %d", peak)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes for a %d-byte body (the emulator's copy included); %d reads, the largest %d bytes", allocated, size, cf.reads, cf.maxRead)
	if allocated > size+6<<20 {
		t.Errorf("allocated %d bytes: the body was buffered on the client side", allocated)
	}
	if cf.maxRead > 1<<20 {
		t.Errorf("a read of %d bytes: the body was not streamed", cf.maxRead)
	}
}

func TestPutEmptyObject(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	if err := st.Put(context.Background(), "empty", nil, 0, outputs.PutOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if _, meta, ok := emu.Object(bucket, "empty"); !ok || meta.Size != 0 || meta.ContentType != "text/plain" {
		t.Fatalf("stored %v %+v", ok, meta)
	}
	rc, err := st.Get(context.Background(), "empty")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); len(got) != 0 {
		t.Errorf("got %q", got)
	}
}

func TestNotFound(t *testing.T) {
	_, ep := emulator(t, obsemu.Options{})
	ctx := context.Background()
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	_, err := st.Get(ctx, "missing.json")
	oe := wantErr(t, err, huaweiobs.OpGet, outputs.ErrNotFound, 404, "NoSuchKey")
	if oe.Retryable() || oe.Message == "" {
		t.Errorf("%+v", oe)
	}

	other := newStore(t, huaweiobs.Config{Endpoint: ep, Bucket: "no-such-bucket"})
	_, err = other.Get(ctx, "k")
	wantErr(t, err, huaweiobs.OpGet, outputs.ErrNotFound, 404, "NoSuchBucket")
	err = other.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{})
	wantErr(t, err, huaweiobs.OpPut, outputs.ErrNotFound, 404, "NoSuchBucket")
}

func TestDenied(t *testing.T) {
	ctx := context.Background()
	_, ep := emulator(t, obsemu.Options{Deny: []string{bucket}})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	err := st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{})
	if oe := wantErr(t, err, huaweiobs.OpPut, outputs.ErrDenied, 403, "AccessDenied"); oe.Retryable() {
		t.Error("denied is retryable")
	}

	_, ep = emulator(t, obsemu.Options{})
	const secret = "a-wrong-secret-key-0123456789"
	st = newStore(t, huaweiobs.Config{Endpoint: ep, Credentials: &huaweikms.Credentials{AccessKey: obsemu.DefaultAK, SecretKey: secret}})
	_, err = st.Get(ctx, "k")
	oe := wantErr(t, err, huaweiobs.OpGet, outputs.ErrDenied, 403, "SignatureDoesNotMatch")
	if s := oe.Error() + fmt.Sprintf("%v %+v %#v", st, st, st); strings.Contains(s, secret) || strings.Contains(s, obsemu.DefaultAK) {
		t.Errorf("a credential shows: %s", s)
	}
}

func TestSecurityToken(t *testing.T) {
	ctx := context.Background()
	emu, ep := emulator(t, obsemu.Options{SecurityToken: "temporary-token-0001"})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	err := st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{})
	wantErr(t, err, huaweiobs.OpPut, outputs.ErrDenied, 403, "InvalidAccessKeyId")

	creds := emuCreds()
	creds.SecurityToken = "temporary-token-0001"
	st = newStore(t, huaweiobs.Config{Endpoint: ep, Credentials: creds})
	if err := st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// The same from the environment, as the KMS adapter's chain reads it.
	t.Setenv("HUAWEICLOUD_SDK_AK", obsemu.DefaultAK)
	t.Setenv("HUAWEICLOUD_SDK_SK", obsemu.DefaultSK)
	t.Setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", "temporary-token-0001")
	st, err = huaweiobs.New(huaweiobs.Config{Bucket: bucket, Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "from-env", strings.NewReader("x"), 1, outputs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := emu.Object(bucket, "from-env"); !ok {
		t.Error("not stored")
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	t.Setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	_, err := huaweiobs.New(huaweiobs.Config{Bucket: bucket, Region: "ap-southeast-1"})
	if err == nil || !strings.Contains(err.Error(), "no OBS credentials") {
		t.Errorf("got %v", err)
	}
	_, err = huaweiobs.New(huaweiobs.Config{Bucket: bucket, Region: "ap-southeast-1", Credentials: &huaweikms.Credentials{AccessKey: "AK"}})
	if err == nil {
		t.Error("credentials without a secret key accepted")
	}
}

func TestRetryableFaults(t *testing.T) {
	ctx := context.Background()
	emu, ep := emulator(t, obsemu.Options{})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	emu.SetFaults(obsemu.Faults{Sequence: []int{503, 500, 429}})
	put := func() error { return st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{}) }
	for _, want := range []struct {
		kind   error
		status int
		code   string
	}{{outputs.ErrThrottled, 503, "SlowDown"}, {outputs.ErrTransient, 500, "InternalError"}, {outputs.ErrThrottled, 429, "TooManyRequests"}} {
		if oe := wantErr(t, put(), huaweiobs.OpPut, want.kind, want.status, want.code); !oe.Retryable() {
			t.Errorf("%+v is not retryable", oe)
		}
	}
	if err := put(); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	// One call each: the SDK does not retry.
	if n := emu.Calls().Ops[obsemu.OpPutObject]; n != 4 {
		t.Errorf("%d PUTs, want 4", n)
	}

	emu.SetFaults(obsemu.Faults{DropRate: 1, Seed: 3})
	_, err := st.Get(ctx, "k")
	if oe := wantErr(t, err, huaweiobs.OpGet, outputs.ErrTransient, 0, ""); !oe.Retryable() || oe.Message == "" {
		t.Errorf("%+v", oe)
	}
}

// The caller's deadline bounds the call: the emulator takes 2s, the
// deadline is 100ms.
func TestDeadline(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	st := newStore(t, huaweiobs.Config{Endpoint: ep})
	if err := emu.SetObject(bucket, "k", []byte("v"), "", ""); err != nil {
		t.Fatal(err)
	}
	emu.SetFaults(obsemu.Faults{Latency: 2 * time.Second})
	for _, op := range []string{huaweiobs.OpPut, huaweiobs.OpGet} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		var err error
		if op == huaweiobs.OpPut {
			err = st.Put(ctx, "late", strings.NewReader("x"), 1, outputs.PutOptions{})
		} else {
			_, err = st.Get(ctx, "k")
		}
		cancel()
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v", op, d)
		}
		oe := wantErr(t, err, op, outputs.ErrTransient, 0, "")
		if !strings.Contains(oe.Message, "deadline exceeded") {
			t.Errorf("%s: %q", op, oe.Message)
		}
	}
	// A context already done sends nothing.
	emu.ResetCalls()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{})
	wantErr(t, err, huaweiobs.OpPut, outputs.ErrTransient, 0, "")
	if n := emu.Calls().Ops[obsemu.OpPutObject]; n != 0 {
		t.Errorf("%d calls", n)
	}
}

// changingBody gives other bytes on its second pass.
type changingBody struct {
	pass int
	r    *bytes.Reader
}

func (b *changingBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *changingBody) Seek(off int64, whence int) (int64, error) {
	b.pass++
	if b.pass == 2 { // the seek back after the MD5
		b.r = bytes.NewReader([]byte("other bytes"))
	}
	return b.r.Seek(off, whence)
}

func TestPutRefusals(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	st := newStore(t, huaweiobs.Config{Endpoint: ep, Prefix: strings.Repeat("p", huaweiobs.MaxPrefixBytes)})
	ctx := context.Background()
	cases := []struct {
		name string
		key  string
		body io.ReadSeeker
		size int64
		o    outputs.PutOptions
	}{
		{"empty key", "", strings.NewReader("x"), 1, outputs.PutOptions{}},
		{"leading slash", "/k", strings.NewReader("x"), 1, outputs.PutOptions{}},
		{"dot segment", "a/../k", strings.NewReader("x"), 1, outputs.PutOptions{}},
		{"key too long with the prefix", strings.Repeat("k", huaweiobs.MaxKeyBytes-huaweiobs.MaxPrefixBytes), strings.NewReader("x"), 1, outputs.PutOptions{}},
		{"negative size", "k", strings.NewReader("x"), -1, outputs.PutOptions{}},
		{"over 5 GB", "k", strings.NewReader("x"), huaweiobs.MaxPutBytes + 1, outputs.PutOptions{}},
		{"no body", "k", nil, 1, outputs.PutOptions{}},
		{"short body", "k", strings.NewReader("abc"), 4, outputs.PutOptions{}},
		{"content type with a line break", "k", strings.NewReader("x"), 1, outputs.PutOptions{ContentType: "text/plain\r\nX-Evil: 1"}},
		{"non-ASCII encoding", "k", strings.NewReader("x"), 1, outputs.PutOptions{ContentEncoding: "gzïp"}},
	}
	for _, c := range cases {
		err := st.Put(ctx, c.key, c.body, c.size, c.o)
		if oe := wantErr(t, err, huaweiobs.OpPut, outputs.ErrInvalid, 0, ""); oe.Message == "" {
			t.Errorf("%s: no message", c.name)
		}
	}
	if n := emu.Calls().Ops[obsemu.OpPutObject]; n != 0 {
		t.Errorf("%d calls sent", n)
	}
	// A body that changes between the MD5 and the upload: OBS refuses it.
	err := st.Put(ctx, "k", &changingBody{r: bytes.NewReader([]byte("first bytes"))}, 11, outputs.PutOptions{})
	wantErr(t, err, huaweiobs.OpPut, outputs.ErrInvalid, 400, "BadDigest")
	if _, _, ok := emu.Object(bucket, strings.Repeat("p", huaweiobs.MaxPrefixBytes)+"/k"); ok {
		t.Error("stored")
	}
	// More bytes than size: size is what is stored.
	if err := st.Put(ctx, "k", strings.NewReader("abcdef"), 3, outputs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := emu.Object(bucket, strings.Repeat("p", huaweiobs.MaxPrefixBytes)+"/k"); string(data) != "abc" {
		t.Errorf("stored %q", data)
	}
}

// Nothing reaches stdout or stderr: the SDK's logger stays off.
func TestSDKWritesNothing(t *testing.T) {
	emu, ep := emulator(t, obsemu.Options{})
	out, errOut := os.Stdout, os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout, os.Stderr = w, w
	func() {
		defer func() { os.Stdout, os.Stderr = out, errOut }()
		st, err := huaweiobs.New(huaweiobs.Config{Bucket: bucket, Endpoint: ep, Credentials: emuCreds()})
		if err != nil {
			return
		}
		ctx := context.Background()
		st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{}) //nolint:errcheck // the output is tested
		if rc, err := st.Get(ctx, "k"); err == nil {
			rc.Close()
		}
		st.Get(ctx, "missing") //nolint:errcheck // the output is tested
		emu.SetFaults(obsemu.Faults{Rate503: 1, Seed: 1})
		st.Put(ctx, "k", strings.NewReader("x"), 1, outputs.PutOptions{}) //nolint:errcheck // the output is tested
	}()
	w.Close()
	got, _ := io.ReadAll(r)
	if len(got) != 0 {
		t.Errorf("written to stdout or stderr: %q", got)
	}
}

// recorder answers every request with an error, recording its URL.
type recorder struct{ urls []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return nil, errors.New("no network in this test")
}

func TestNewConfig(t *testing.T) {
	rec := &recorder{}
	st := newStore(t, huaweiobs.Config{Region: "ap-southeast-1", Transport: rec})
	err := st.Put(context.Background(), "k", strings.NewReader("x"), 1, outputs.PutOptions{})
	wantErr(t, err, huaweiobs.OpPut, outputs.ErrTransient, 0, "")
	if len(rec.urls) != 1 || rec.urls[0] != "https://"+bucket+".obs.ap-southeast-1.myhuaweicloud.com:443/k" {
		t.Errorf("sent to %q", rec.urls)
	}
	bad := []huaweiobs.Config{
		{Bucket: "Bad_Bucket", Region: "ap-southeast-1"},
		{Bucket: bucket, Region: "ap-southeast-1", Prefix: "/abs"},
		{Bucket: bucket},
		{Bucket: bucket, Region: "Ap Southeast"},
		{Bucket: bucket, Endpoint: "http://127.0.0.1:9000/path"},
		{Bucket: bucket, Endpoint: "http://[::1]:9000"},
		{Bucket: bucket, Endpoint: "ftp://host"},
		{Bucket: bucket, Endpoint: "http://user:secret@host"},
		{Bucket: bucket, Endpoint: "http://host?x=1"},
	}
	for _, c := range bad {
		c.Credentials = emuCreds()
		if _, err := huaweiobs.New(c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: the error shows the password: %v", c, err)
		}
	}
	for ep, want := range map[string]string{"obs.example.com": "https://obs.example.com", "HTTP://127.0.0.1:9000/": "http://127.0.0.1:9000"} {
		if got, err := huaweiobs.CheckEndpoint(ep); err != nil || got != want {
			t.Errorf("CheckEndpoint(%q) = %q, %v; want %q", ep, got, err, want)
		}
	}
}
