package obsemu_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-obs/obs"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
)

const bucket = "reports-bucket"

// start serves an emulator on a loopback port until the test ends.
func start(t *testing.T, opts obsemu.Options) (*obsemu.Server, string) {
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

// client is the OBS SDK's client, without retries, on its own transport.
func client(t *testing.T, ep, ak, sk string, more ...func(*clientOpts)) *obs.ObsClient {
	t.Helper()
	o := clientOpts{hc: &http.Client{Transport: &http.Transport{}}, ctx: context.Background()}
	for _, f := range more {
		f(&o)
	}
	c, err := obs.New(ak, sk, ep, obs.WithHttpClient(o.hc), obs.WithMaxRetryCount(0), obs.WithMaxRedirectCount(0),
		obs.WithSecurityToken(o.token), obs.WithSignature(o.sig), obs.WithRequestContext(o.ctx))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type clientOpts struct {
	hc    *http.Client
	token string
	sig   obs.SignatureType
	ctx   context.Context
}

func withToken(tok string) func(*clientOpts)           { return func(o *clientOpts) { o.token = tok } }
func withSig(sig obs.SignatureType) func(*clientOpts)  { return func(o *clientOpts) { o.sig = sig } }
func withCtx(ctx context.Context) func(*clientOpts)    { return func(o *clientOpts) { o.ctx = ctx } }
func withHTTPClient(hc *http.Client) func(*clientOpts) { return func(o *clientOpts) { o.hc = hc } }
func defaultClient(t *testing.T, ep string) *obs.ObsClient {
	return client(t, ep, obsemu.DefaultAK, obsemu.DefaultSK)
}

func put(c *obs.ObsClient, b, key string, data []byte, ct, ce string) error {
	in := &obs.PutObjectInput{}
	in.Bucket, in.Key = b, key
	in.ContentType, in.ContentEncoding = ct, ce
	in.ContentLength = int64(len(data))
	in.Body = bytes.NewReader(data)
	_, err := c.PutObject(in)
	return err
}

func get(c *obs.ObsClient, b, key string) ([]byte, *obs.GetObjectOutput, error) {
	in := &obs.GetObjectInput{}
	in.Bucket, in.Key = b, key
	in.AcceptEncoding = "identity" // else net/http would gunzip a gzip object
	out, err := c.GetObject(in)
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	return data, out, err
}

// obsError is the SDK's error, or fails the test.
func obsError(t *testing.T, err error) obs.ObsError {
	t.Helper()
	var oe obs.ObsError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v (%T), want an obs.ObsError", err, err)
	}
	return oe
}

func wantCode(t *testing.T, err error, status int, code string) obs.ObsError {
	t.Helper()
	oe := obsError(t, err)
	if oe.StatusCode != status || oe.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", oe.StatusCode, oe.Code, oe.Message, status, code)
	}
	return oe
}

func TestRoundTripPathStyle(t *testing.T) {
	s, ep := start(t, obsemu.Options{})
	c := defaultClient(t, ep)
	keys := []string{"runs/2024/report.json.gz", "a b/ü+%&=?#;.html", strings.Repeat("k", obsemu.MaxKeyBytes)}
	data := []byte(`{"ok":true}`)
	for _, key := range keys {
		if err := put(c, bucket, key, data, "application/json", "gzip"); err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
		got, out, err := get(c, bucket, key)
		if err != nil {
			t.Fatalf("get %q: %v", key, err)
		}
		sum := md5.Sum(data)
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		if !bytes.Equal(got, data) || out.ContentType != "application/json" || out.ContentEncoding != "gzip" ||
			out.ETag != etag || out.ContentLength != int64(len(data)) || out.RequestId == "" {
			t.Errorf("get %q: %q type %q encoding %q etag %s length %d request id %q", key, got, out.ContentType,
				out.ContentEncoding, out.ETag, out.ContentLength, out.RequestId)
		}
		stored, meta, ok := s.Object(bucket, key)
		if !ok || !bytes.Equal(stored, data) || meta.ETag != etag || meta.Size != int64(len(data)) || meta.ContentEncoding != "gzip" {
			t.Errorf("stored %q: %q %+v %v", key, stored, meta, ok)
		}
	}
	if got := s.Keys(bucket); len(got) != len(keys) {
		t.Errorf("keys %q", got)
	}
	calls := s.Calls()
	if calls.Ops[obsemu.OpPutObject] != 3 || calls.Ops[obsemu.OpGetObject] != 3 || calls.Status[200] != 6 || calls.PeakPutBytes != int64(len(data)) {
		t.Errorf("calls %+v", calls)
	}
	// HEAD bucket and object, DELETE.
	if _, err := c.HeadBucket(bucket); err != nil {
		t.Errorf("head bucket: %v", err)
	}
	if _, err := c.DeleteObject(&obs.DeleteObjectInput{Bucket: bucket, Key: keys[0]}); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, _, ok := s.Object(bucket, keys[0]); ok {
		t.Error("deleted object still there")
	}
}

// Virtual-hosted style with the OBS signature and a security token: the
// SDK addresses http://bucket.obs.emu.test:port, signs "OBS ak:sig" over
// x-obs-* headers, the token as x-obs-security-token.
func TestVirtualHostedOBSSignatureWithToken(t *testing.T) {
	s, ep := start(t, obsemu.Options{Domain: "obs.emu.test", SecurityToken: "tok-123"})
	addr := strings.TrimPrefix(ep, "http://")
	_, port, _ := net.SplitHostPort(addr)
	var hosts []string
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		hosts = append(hosts, a)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	c := client(t, "http://obs.emu.test:"+port, obsemu.DefaultAK, obsemu.DefaultSK,
		withHTTPClient(hc), withToken("tok-123"), withSig(obs.SignatureObs))
	data := []byte("<html></html>")
	if err := put(c, bucket, "index.html", data, "text/html; charset=utf-8", ""); err != nil {
		t.Fatal(err)
	}
	got, out, err := get(c, bucket, "index.html")
	if err != nil || !bytes.Equal(got, data) || out.ContentType != "text/html; charset=utf-8" {
		t.Fatalf("get: %q %v", got, err)
	}
	if len(hosts) == 0 || hosts[0] != bucket+".obs.emu.test:"+port {
		t.Errorf("dialled %q, want the bucket's host", hosts)
	}
	// The wrong token, then none.
	for _, tok := range []string{"tok-999", ""} {
		c := client(t, "http://obs.emu.test:"+port, obsemu.DefaultAK, obsemu.DefaultSK,
			withHTTPClient(hc), withToken(tok), withSig(obs.SignatureObs))
		_, _, err := get(c, bucket, "index.html")
		wantCode(t, err, 403, "InvalidAccessKeyId")
	}
	if s.Calls().Status[403] != 2 {
		t.Errorf("calls %+v", s.Calls())
	}
}

func TestAuthFailures(t *testing.T) {
	_, ep := start(t, obsemu.Options{})
	_, epTok := start(t, obsemu.Options{SecurityToken: "tok"})
	later := func() time.Time { return time.Now().Add(20 * time.Minute) }
	earlier := func() time.Time { return time.Now().Add(-20 * time.Minute) }
	_, epLater := start(t, obsemu.Options{Now: later})
	_, epEarlier := start(t, obsemu.Options{Now: earlier})
	_, epAlmost := start(t, obsemu.Options{Now: func() time.Time { return time.Now().Add(14 * time.Minute) }})
	cases := []struct {
		name       string
		c          *obs.ObsClient
		status     int
		code, want string
	}{
		{"wrong secret", client(t, ep, obsemu.DefaultAK, "not-the-secret"), 403, "SignatureDoesNotMatch", "signature"},
		{"wrong access key", client(t, ep, "OTHERAK", obsemu.DefaultSK), 403, "InvalidAccessKeyId", "does not exist"},
		{"token not expected", client(t, ep, obsemu.DefaultAK, obsemu.DefaultSK, withToken("tok")), 403, "InvalidAccessKeyId", "token"},
		{"token missing", client(t, epTok, obsemu.DefaultAK, obsemu.DefaultSK), 403, "InvalidAccessKeyId", "does not exist"},
		{"token wrong", client(t, epTok, obsemu.DefaultAK, obsemu.DefaultSK, withToken("tik")), 403, "InvalidAccessKeyId", "token"},
		{"request too old", defaultClient(t, epLater), 403, "RequestTimeTooSkewed", "no longer valid"},
		{"request too new", defaultClient(t, epEarlier), 403, "RequestTimeTooSkewed", "not yet valid"},
		{"14 minutes off", defaultClient(t, epAlmost), 404, "NoSuchKey", ""},
		{"token right", client(t, epTok, obsemu.DefaultAK, obsemu.DefaultSK, withToken("tok")), 404, "NoSuchKey", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := get(c.c, bucket, "missing.json")
			oe := wantCode(t, err, c.status, c.code)
			if !strings.Contains(oe.Message, c.want) {
				t.Errorf("message %q, want %q in it", oe.Message, c.want)
			}
			if oe.RequestId == "" || oe.HostId == "" {
				t.Errorf("no request id or host id: %+v", oe)
			}
		})
	}
	// Unsigned, and V4-signed requests.
	for name, authz := range map[string]string{"anonymous": "", "v4": "AWS4-HMAC-SHA256 Credential=x/20240101/r/s3/aws4_request"} {
		req, _ := http.NewRequest(http.MethodGet, ep+"/"+bucket+"/k", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") ||
			resp.Header.Get("x-obs-request-id") == "" || !strings.HasPrefix(string(body), "<?xml") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}

// A subresource the SDK signs (versionId) verifies, then is refused as
// not served.
func TestSignedSubresourceNotServed(t *testing.T) {
	_, ep := start(t, obsemu.Options{})
	c := defaultClient(t, ep)
	in := &obs.GetObjectInput{}
	in.Bucket, in.Key, in.VersionId = bucket, "k", "v1"
	_, err := c.GetObject(in)
	wantCode(t, err, 501, "NotImplemented")
}

func TestBucketErrors(t *testing.T) {
	s, ep := start(t, obsemu.Options{Buckets: []string{bucket, "denied-bucket"}, Deny: []string{"denied-bucket"}})
	c := defaultClient(t, ep)
	err := put(c, "no-such-bucket", "k", []byte("x"), "", "")
	wantCode(t, err, 404, "NoSuchBucket")
	err = put(c, "denied-bucket", "k", []byte("x"), "", "")
	wantCode(t, err, 403, "AccessDenied")
	s.SetDenied("denied-bucket", false)
	if err := put(c, "denied-bucket", "k", []byte("x"), "", ""); err != nil {
		t.Fatal(err)
	}
	s.SetDenied(bucket, true)
	_, _, err = get(c, bucket, "k")
	wantCode(t, err, 403, "AccessDenied")
	// HEAD answers have no body: the status says it.
	_, err = c.HeadBucket("no-such-bucket")
	if oe := obsError(t, err); oe.StatusCode != 404 {
		t.Errorf("head bucket: %+v", oe)
	}
}

func TestPutRules(t *testing.T) {
	s, ep := start(t, obsemu.Options{MaxObjectBytes: 10})
	c := defaultClient(t, ep)

	err := put(c, bucket, strings.Repeat("k", obsemu.MaxKeyBytes+1), []byte("x"), "", "")
	wantCode(t, err, 400, "KeyTooLongError")

	err = put(c, bucket, "big", make([]byte, 11), "", "")
	wantCode(t, err, 400, "EntityTooLarge")

	// Content-MD5: malformed, then not the body's, then right.
	data := []byte("0123456789")
	sum := md5.Sum(data)
	for _, tc := range []struct{ md5, code string }{{"nope", "InvalidDigest"}, {base64.StdEncoding.EncodeToString(sum[:8]), "InvalidDigest"}, {base64.StdEncoding.EncodeToString(make([]byte, 16)), "BadDigest"}, {base64.StdEncoding.EncodeToString(sum[:]), ""}} {
		in := &obs.PutObjectInput{}
		in.Bucket, in.Key, in.ContentMD5, in.ContentLength = bucket, "md5", tc.md5, int64(len(data))
		in.Body = bytes.NewReader(data)
		_, err := c.PutObject(in)
		if tc.code == "" {
			if err != nil {
				t.Errorf("right MD5: %v", err)
			}
			continue
		}
		wantCode(t, err, 400, tc.code)
	}

	// No Content-Length: a body of unknown length goes chunked.
	in := &obs.PutObjectInput{}
	in.Bucket, in.Key = bucket, "chunked"
	in.Body = io.MultiReader(strings.NewReader("abc"))
	_, err = c.PutObject(in)
	wantCode(t, err, 411, "MissingContentLength")

	// An empty object: no body, Content-Length: 0.
	in = &obs.PutObjectInput{}
	in.Bucket, in.Key = bucket, "empty"
	if _, err := c.PutObject(in); err != nil {
		t.Fatalf("empty: %v", err)
	}
	got, out, err := get(c, bucket, "empty")
	if err != nil || len(got) != 0 || out.ContentType != obsemu.DefaultContentType {
		t.Errorf("empty: %q %v", got, err)
	}
	if keys := s.Keys(bucket); strings.Join(keys, ",") != "empty,md5" {
		t.Errorf("keys %q", keys)
	}
}

func TestFaults(t *testing.T) {
	s, ep := start(t, obsemu.Options{})
	c := defaultClient(t, ep)
	if err := s.SetObject(bucket, "k", []byte("v"), "text/plain", ""); err != nil {
		t.Fatal(err)
	}

	s.SetFaults(obsemu.Faults{Sequence: []int{503, 500, 404, 0}})
	wantCode(t, func() error { _, _, err := get(c, bucket, "k"); return err }(), 503, "SlowDown")
	wantCode(t, func() error { _, _, err := get(c, bucket, "k"); return err }(), 500, "InternalError")
	wantCode(t, func() error { _, _, err := get(c, bucket, "k"); return err }(), 404, "NoSuchKey")
	if _, _, err := get(c, bucket, "k"); err != nil {
		t.Fatalf("after the sequence: %v", err)
	}

	// A PUT answered with an injected error still reads the answer.
	s.SetFaults(obsemu.Faults{Rate503: 1, Seed: 1})
	err := put(c, bucket, "big", make([]byte, 4<<20), "", "")
	wantCode(t, err, 503, "SlowDown")

	s.SetFaults(obsemu.Faults{Rate500: 1, Seed: 1})
	wantCode(t, func() error { _, _, err := get(c, bucket, "k"); return err }(), 500, "InternalError")

	s.SetFaults(obsemu.Faults{Unauthorized: true})
	wantCode(t, func() error { _, _, err := get(c, bucket, "k"); return err }(), 403, "InvalidAccessKeyId")

	s.SetFaults(obsemu.Faults{DropRate: 1, Seed: 1})
	_, _, err = get(c, bucket, "k")
	var oe obs.ObsError
	if err == nil || errors.As(err, &oe) {
		t.Errorf("dropped: got %v, want a transport error", err)
	}

	// Latency: a client that gives up stores nothing.
	s.SetFaults(obsemu.Faults{Latency: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = put(client(t, ep, obsemu.DefaultAK, obsemu.DefaultSK, withCtx(ctx)), bucket, "late", []byte("x"), "", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("late put: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, _, ok := s.Object(bucket, "late"); ok {
		t.Error("a put its client gave up on was stored")
	}
	if s.Calls().Status[0] < 2 {
		t.Errorf("calls %+v: want the drop and the abandoned put under status 0", s.Calls())
	}
}

func TestNew(t *testing.T) {
	for _, b := range [][]string{{""}, {"a/b"}, {"x", "x"}} {
		if _, err := obsemu.New(obsemu.Options{Buckets: b}); err == nil {
			t.Errorf("buckets %q accepted", b)
		}
	}
	s, err := obsemu.New(obsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Keys(obsemu.DefaultBucket) == nil || s.Keys("other") != nil {
		t.Error("default bucket not served")
	}
	if err := s.SetObject("other", "k", nil, "", ""); err == nil {
		t.Error("SetObject on a bucket not served")
	}
	if _, err := s.Listen(""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen(""); err == nil {
		t.Error("listening twice")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNoList: without the ListBucket permission, a missing object is
// AccessDenied; an object that exists is still served.
func TestNoList(t *testing.T) {
	s, ep := start(t, obsemu.Options{NoList: []string{bucket}})
	c := defaultClient(t, ep)
	if err := s.SetObject(bucket, "k", []byte("v"), "text/plain", ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, func() error { _, _, err := get(c, bucket, "missing"); return err }(), 403, "AccessDenied")
	if got, _, err := get(c, bucket, "k"); err != nil || string(got) != "v" {
		t.Errorf("an object that exists: %q, %v", got, err)
	}
	s.SetNoList(bucket, false)
	wantCode(t, func() error { _, _, err := get(c, bucket, "missing"); return err }(), 404, "NoSuchKey")
}
