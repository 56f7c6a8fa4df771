package obsemu

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// readRequest parses a raw HTTP/1.1 request as a server receives it.
func readRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n") + "\r\n\r\n")))
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	return r
}

// The header signature's published examples: Amazon S3's (the AWS v2
// signature the OBS SDK sends by default) with their documented keys and
// signatures, and OBS's StringToSign example
// (https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0010.html).
func TestStringToSignPublishedExamples(t *testing.T) {
	const sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	cases := []struct {
		name, domain, raw, prefix, wantSTS, wantSig string
	}{
		{
			name: "S3 object GET", domain: "s3.amazonaws.com", prefix: "x-amz-",
			raw:     "GET /photos/puppy.jpg HTTP/1.1\nHost: johnsmith.s3.amazonaws.com\nDate: Tue, 27 Mar 2007 19:36:42 +0000",
			wantSTS: "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
			wantSig: "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
		},
		{
			name: "S3 object PUT", domain: "s3.amazonaws.com", prefix: "x-amz-",
			raw:     "PUT /photos/puppy.jpg HTTP/1.1\nContent-Type: image/jpeg\nContent-Length: 94328\nHost: johnsmith.s3.amazonaws.com\nDate: Tue, 27 Mar 2007 21:15:45 +0000",
			wantSTS: "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
			wantSig: "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
		},
		{
			name: "S3 list", domain: "s3.amazonaws.com", prefix: "x-amz-",
			raw:     "GET /?prefix=photos&max-keys=50&marker=puppy HTTP/1.1\nHost: johnsmith.s3.amazonaws.com\nDate: Tue, 27 Mar 2007 19:42:41 +0000",
			wantSTS: "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
			wantSig: "htDYFYduRNen8P9ZfE/s9SuKy0U=",
		},
		{
			name: "OBS GET", domain: "obs.cn-north-4.myhuaweicloud.com", prefix: "x-obs-",
			raw:     "GET /object.txt HTTP/1.1\nHost: bucket.obs.cn-north-4.myhuaweicloud.com\nDate: Sat, 12 Oct 2015 08:12:38 GMT",
			wantSTS: "GET\n\n\nSat, 12 Oct 2015 08:12:38 GMT\n/bucket/object.txt",
		},
		{
			name: "OBS headers and subresource", domain: "obs.example", prefix: "x-obs-",
			raw: "PUT /k%20ey?acl&x-obs-foo=b%20a&other=1 HTTP/1.1\nHost: b.obs.example\nDate: Sat, 12 Oct 2015 08:12:38 GMT\nx-obs-date: Sat, 12 Oct 2015 08:12:39 GMT\n" +
				"X-Obs-Meta-B: 2\nx-obs-meta-a: 1\nx-obs-meta-a: 3\nx-amz-ignored: z\nContent-MD5: abc==\nContent-Type: text/plain",
			// Date is empty when x-obs-date is sent; the subresources are
			// sorted, the values as they are.
			wantSTS: "PUT\nabc==\ntext/plain\n\nx-obs-date:Sat, 12 Oct 2015 08:12:39 GMT\nx-obs-meta-a:1,3\nx-obs-meta-b:2\n/b/k%20ey?acl&x-obs-foo=b a",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Options{Domain: c.domain})
			if err != nil {
				t.Fatal(err)
			}
			r := readRequest(t, c.raw)
			rt, aerr := s.parseRoute(r)
			if aerr != nil {
				t.Fatalf("parseRoute: %+v", aerr)
			}
			date := r.Header.Get("Date")
			if r.Header.Get(c.prefix+"date") != "" {
				date = ""
			}
			sts := stringToSign(r, c.prefix, date, rt.resource+canonicalSubresources(rt.query, c.prefix))
			if sts != c.wantSTS {
				t.Errorf("StringToSign\n got %q\nwant %q", sts, c.wantSTS)
			}
			if c.wantSig != "" {
				if got := sign(sk, sts); got != c.wantSig {
					t.Errorf("signature %s, want %s", got, c.wantSig)
				}
			}
		})
	}
}

func TestParseRoute(t *testing.T) {
	s, err := New(Options{Domain: "obs.local"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		raw                       string
		op, bucket, key, resource string
		bad                       bool
	}{
		{raw: "PUT /b/a/b%20c.json HTTP/1.1\nHost: 127.0.0.1:9000", op: OpPutObject, bucket: "b", key: "a/b c.json", resource: "/b/a/b%20c.json"},
		{raw: "GET /b/%C3%BC%2B HTTP/1.1\nHost: 127.0.0.1", op: OpGetObject, bucket: "b", key: "ü+", resource: "/b/%C3%BC%2B"},
		{raw: "HEAD /b HTTP/1.1\nHost: 127.0.0.1", op: OpHeadBucket, bucket: "b", resource: "/b"},
		{raw: "HEAD /b/ HTTP/1.1\nHost: 127.0.0.1", op: OpHeadBucket, bucket: "b", resource: "/b/"},
		{raw: "GET /b HTTP/1.1\nHost: 127.0.0.1", op: OpOther, bucket: "b", resource: "/b"},
		{raw: "POST /b/k HTTP/1.1\nHost: 127.0.0.1", op: OpOther, bucket: "b", key: "k", resource: "/b/k"},
		{raw: "GET / HTTP/1.1\nHost: 127.0.0.1", op: OpOther, resource: "/"},
		{raw: "GET /k/x HTTP/1.1\nHost: my.bucket.obs.local:8080", op: OpGetObject, bucket: "my.bucket", key: "k/x", resource: "/my.bucket/k/x"},
		{raw: "HEAD / HTTP/1.1\nHost: bkt.obs.local", op: OpHeadBucket, bucket: "bkt", resource: "/bkt/"},
		{raw: "GET /b/%FF HTTP/1.1\nHost: 127.0.0.1", bad: true},
		{raw: "GET /b/k?a=%ZZ HTTP/1.1\nHost: 127.0.0.1", bad: true},
	}
	for _, c := range cases {
		rt, aerr := s.parseRoute(readRequest(t, c.raw))
		if c.bad {
			if aerr == nil || aerr.code != "InvalidURI" {
				t.Errorf("%q: got %+v, want InvalidURI", c.raw, aerr)
			}
			continue
		}
		if aerr != nil {
			t.Errorf("%q: %+v", c.raw, aerr)
			continue
		}
		if rt.op != c.op || rt.bucket != c.bucket || rt.key != c.key || rt.resource != c.resource {
			t.Errorf("%q: got op %q bucket %q key %q resource %q, want %q %q %q %q",
				c.raw, rt.op, rt.bucket, rt.key, rt.resource, c.op, c.bucket, c.key, c.resource)
		}
	}
}
