package huaweiobs

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-obs/obs"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
)

// DefaultContentType is sent when PutOptions.ContentType is empty, rather
// than a type the SDK would guess from the key's extension.
const DefaultContentType = "application/octet-stream"

// Store is an outputs.Store over one OBS bucket (and a prefix in it). It
// is safe for concurrent use.
type Store struct {
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string
	region   string
	pathOnly bool
	creds    huaweikms.Credentials
	http     *http.Client
}

var _ outputs.Store = (*Store)(nil)

// New builds a Store from c without any network call: it checks the
// bucket, the prefix and the endpoint, and resolves the credentials.
func New(c Config) (*Store, error) {
	if err := CheckBucket(c.Bucket); err != nil {
		return nil, err
	}
	if err := CheckPrefix(c.Prefix); err != nil {
		return nil, err
	}
	ep, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	creds, err := c.credentials()
	if err != nil {
		return nil, err
	}
	timeout := c.HTTPTimeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	rt := c.Transport
	if rt == nil {
		rt = sharedTransport
	}
	prefix := strings.TrimSuffix(c.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	s := &Store{
		bucket:   c.Bucket,
		prefix:   prefix,
		endpoint: ep,
		region:   c.Region,
		pathOnly: c.PathStyle,
		creds:    creds,
		http: &http.Client{
			Transport: rt,
			Timeout:   timeout,
			// A redirect is the caller's to see (a bucket in another
			// region), never followed with the signature of this call.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if _, err := s.client(context.Background()); err != nil {
		return nil, fmt.Errorf("OBS client: %s", s.redact(err.Error()))
	}
	return s, nil
}

// client builds the SDK's client for one call. The SDK takes a context
// only per client (WithRequestContext), so each call has its own; they
// share the HTTP client and so the connections. The signature is the
// SDK's default (obs.SignatureV2: "Authorization: AWS ak:signature",
// HMAC-SHA1, x-amz-* headers), which OBS accepts; the SDK also uses it
// for any path-style client.
func (s *Store) client(ctx context.Context) (*obs.ObsClient, error) {
	return obs.New(s.creds.AccessKey, s.creds.SecretKey, s.endpoint,
		obs.WithSecurityToken(s.creds.SecurityToken),
		obs.WithRegion(s.region),
		obs.WithPathStyle(s.pathOnly),
		obs.WithHttpClient(s.http),
		obs.WithMaxRetryCount(0),    // the caller retries
		obs.WithMaxRedirectCount(0), // see CheckRedirect
		obs.WithRequestContext(ctx),
	)
}

// String names the store without its credentials.
func (s *Store) String() string { return "huaweiobs.Store{" + Scheme + s.bucket + "/" + s.prefix + "}" }

// GoString is String, so that %#v shows no credentials either.
func (s *Store) GoString() string { return s.String() }

// Where is the location of key: obs://bucket/prefix/key.
func (s *Store) Where(key string) string { return Scheme + s.bucket + "/" + s.prefix + key }

// objectKey is the object's key in the bucket, or why key cannot be one.
func (s *Store) objectKey(op, key string) (string, *outputs.Error) {
	if err := CheckKey(key); err != nil {
		return "", failure(op, outputs.ErrInvalid, err.Error())
	}
	full := s.prefix + key
	if len(full) > MaxKeyBytes {
		return "", failure(op, outputs.ErrInvalid, fmt.Sprintf("the object key with the prefix is %d bytes, more than %d", len(full), MaxKeyBytes))
	}
	return full, nil
}

// checkHeaderValue refuses what cannot go into an HTTP header unchanged:
// the SDK would percent-encode non-ASCII characters, and a control
// character would end the header.
func checkHeaderValue(name, v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("%s %q holds a character other than printable ASCII", name, v)
		}
	}
	return nil
}

// Put stores size bytes of body, read from its start, under key with one
// PutObject call: Content-Length size, the options' Content-Type (default
// DefaultContentType) and Content-Encoding, and the Content-MD5 of the
// bytes, which OBS checks (BadDigest when the body changed on the way).
// The body is read twice, never whole into memory: once for the MD5, then
// streamed to OBS after a seek back to its start. The call's deadline
// bounds both. At most MaxPutBytes: larger objects need a multipart
// upload. Errors are *outputs.Error; nothing is retried here.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, o outputs.PutOptions) error {
	full, oerr := s.objectKey(OpPut, key)
	if oerr != nil {
		return oerr
	}
	switch {
	case size < 0:
		return failure(OpPut, outputs.ErrInvalid, fmt.Sprintf("negative size %d", size))
	case size > MaxPutBytes:
		return failure(OpPut, outputs.ErrInvalid, fmt.Sprintf("%d bytes is more than one PUT stores (%d)", size, MaxPutBytes))
	case size > 0 && body == nil:
		return failure(OpPut, outputs.ErrInvalid, "no body")
	}
	ct := o.ContentType
	if ct == "" {
		ct = DefaultContentType
	}
	if err := checkHeaderValue("content type", ct); err != nil {
		return failure(OpPut, outputs.ErrInvalid, err.Error())
	}
	if err := checkHeaderValue("content encoding", o.ContentEncoding); err != nil {
		return failure(OpPut, outputs.ErrInvalid, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return failure(OpPut, outputs.ErrTransient, err.Error())
	}

	in := &obs.PutObjectInput{}
	in.Bucket = s.bucket
	in.Key = full
	in.ContentType = ct
	in.ContentEncoding = o.ContentEncoding
	in.ContentLength = size
	if size > 0 {
		sum, err := digest(ctx, body, size)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return failure(OpPut, outputs.ErrTransient, cerr.Error())
			}
			return failure(OpPut, outputs.ErrInvalid, err.Error())
		}
		in.ContentMD5 = sum
		// A type of its own: the SDK wraps it (readerWrapper, then a
		// progress reader) and net/http streams it in 32 KiB reads with
		// the Content-Length given; nothing buffers the whole body.
		in.Body = &bodyReader{ctx: ctx, r: body, left: size}
	}
	// else: no body at all, and net/http sends "Content-Length: 0".

	cl, err := s.client(ctx)
	if err != nil {
		return failure(OpPut, outputs.ErrInvalid, s.redact(err.Error()))
	}
	if _, err := cl.PutObject(in); err != nil {
		return s.classify(OpPut, ctx, err)
	}
	return nil
}

// digest returns the base64 MD5 of the first size bytes of body (RFC 1864,
// as Content-MD5 wants it) and leaves body at its start.
func digest(ctx context.Context, body io.ReadSeeker, size int64) (string, error) {
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("seek the body to its start: %w", err)
	}
	h := md5.New()
	n, err := io.Copy(h, &bodyReader{ctx: ctx, r: body, left: size})
	if err != nil {
		return "", fmt.Errorf("read the body: %w", err)
	}
	if n < size {
		return "", fmt.Errorf("the body holds %d bytes, fewer than the size %d", n, size)
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("seek the body back to its start: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// bodyReader reads at most left bytes of r, and stops when ctx is done.
type bodyReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Get opens the object at key with one GetObject call. The body streams
// from OBS as the caller reads it: the call's context and HTTPTimeout
// still bound the reading, so read before cancelling the context. It
// returns the bytes as stored: the request says "Accept-Encoding:
// identity", so that no transport decompresses a gzip object on the way.
// An object or bucket that does not exist is an *outputs.Error of kind
// ErrNotFound (Code NoSuchKey or NoSuchBucket).
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	full, oerr := s.objectKey(OpGet, key)
	if oerr != nil {
		return nil, oerr
	}
	if err := ctx.Err(); err != nil {
		return nil, failure(OpGet, outputs.ErrTransient, err.Error())
	}
	in := &obs.GetObjectInput{}
	in.Bucket = s.bucket
	in.Key = full
	in.AcceptEncoding = "identity"
	cl, err := s.client(ctx)
	if err != nil {
		return nil, failure(OpGet, outputs.ErrInvalid, s.redact(err.Error()))
	}
	out, err := cl.GetObjectWithoutProgress(in)
	if err != nil {
		return nil, s.classify(OpGet, ctx, err)
	}
	if out == nil || out.Body == nil {
		return nil, failure(OpGet, outputs.ErrTransient, "the SDK returned no body")
	}
	return out.Body, nil
}
