package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	algorithm       = "SDK-HMAC-SHA256"
	headerDate      = "X-Sdk-Date"
	headerToken     = "X-Security-Token"
	headerProject   = "X-Project-Id"
	headerContent   = "X-Sdk-Content-Sha256"
	dateFormat      = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// authError is a failed authentication: reason goes into the gateway's
// message after "Incorrect IAM authentication information: ".
type authError struct{ reason string }

func (e *authError) Error() string { return e.reason }

// verify checks a request's signature against the server's credentials.
func (s *Server) verify(r *http.Request, body []byte, now time.Time) *authError {
	return verifySignature(r, body, Signer{AccessKey: s.opts.AccessKey, SecretKey: s.opts.SecretKey, SecurityToken: s.opts.SecurityToken}, now)
}

// Signer is the credentials a local service accepts: an access key pair,
// and the security token of temporary credentials ("" for permanent ones).
type Signer struct {
	AccessKey, SecretKey, SecurityToken string
}

// VerifySignature checks a request's SDK-HMAC-SHA256 signature, recomputed
// from the request as received (body is its body, already read), against
// creds, as the API gateway in front of every Huawei Cloud service does:
// the access key, the signed X-Sdk-Date within 15 minutes of now, the
// security token when creds has one (and none when it has not), a
// declared payload hash, the signature. The error says why, in the words
// the gateway's APIGW.0301 message uses after "Incorrect IAM
// authentication information: ". The other local services (IAM,
// FunctionGraph) check requests with it.
func VerifySignature(r *http.Request, body []byte, creds Signer, now time.Time) error {
	if err := verifySignature(r, body, creds, now); err != nil {
		return err
	}
	return nil
}

func verifySignature(r *http.Request, body []byte, creds Signer, now time.Time) *authError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &authError{"Authorization header is missing"}
	}
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != algorithm {
		return &authError{fmt.Sprintf("unsupported signing algorithm %q", alg)}
	}
	var ak, signed, sig string
	for _, part := range strings.Split(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return &authError{"malformed Authorization header"}
		}
		switch name {
		case "Access":
			ak = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			sig = val
		}
	}
	if ak == "" || signed == "" || sig == "" {
		return &authError{"malformed Authorization header"}
	}
	if subtle.ConstantTimeCompare([]byte(ak), []byte(creds.AccessKey)) != 1 {
		return &authError{"access key does not exist"}
	}
	headers := strings.Split(signed, ";")
	if !slices.Contains(headers, "x-sdk-date") {
		return &authError{"X-Sdk-Date is not signed"}
	}
	date := r.Header.Get(headerDate)
	t, err := time.Parse(dateFormat, date)
	if err != nil {
		return &authError{"X-Sdk-Date is missing or malformed"}
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return &authError{"the request has expired: X-Sdk-Date is more than 15 minutes off"}
	}
	token := r.Header.Get(headerToken)
	switch {
	case creds.SecurityToken == "" && token != "":
		return &authError{"security token given for permanent credentials"}
	case creds.SecurityToken != "" && token == "":
		return &authError{"security token is missing"}
	case creds.SecurityToken != "":
		if subtle.ConstantTimeCompare([]byte(token), []byte(creds.SecurityToken)) != 1 {
			return &authError{"security token is invalid or expired"}
		}
		if !slices.Contains(headers, "x-security-token") {
			return &authError{"X-Security-Token is not signed"}
		}
	}
	// A declared payload hash stands for the body in the signature: it must
	// be the body's, unless the payload is declared unsigned.
	if c := r.Header.Get(headerContent); c != "" && c != unsignedPayload {
		sum := sha256.Sum256(body)
		if !strings.EqualFold(c, hex.EncodeToString(sum[:])) {
			return &authError{"X-Sdk-Content-Sha256 is not the SHA-256 of the body"}
		}
	}
	want := signature(creds.SecretKey, date, canonicalRequest(r, headers, body))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return &authError{"verify aksk signature fail"}
	}
	return nil
}

// canonicalRequest rebuilds the string the SDK signed.
func canonicalRequest(r *http.Request, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	// Path: each segment escaped, with a trailing slash.
	segs := strings.Split(r.URL.Path, "/")
	for i, seg := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(escape(seg))
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		b.WriteByte('/')
	}
	b.WriteByte('\n')
	// Query: keys sorted, values sorted.
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	first := true
	for _, k := range names {
		vals := slices.Clone(q[k])
		slices.Sort(vals)
		for _, v := range vals {
			if !first {
				b.WriteByte('&')
			}
			first = false
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	b.WriteByte('\n')
	// Headers in the order signed.
	for _, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			vals = slices.Clone(r.Header.Values(h))
		}
		slices.Sort(vals)
		for _, v := range vals {
			b.WriteString(h)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	if c := r.Header.Get(headerContent); c != "" {
		b.WriteString(c)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// signature is HMAC-SHA256(sk, string to sign).
func signature(sk, date, canonical string) []byte {
	sum := sha256.Sum256([]byte(canonical))
	sts := algorithm + "\n" + date + "\n" + hex.EncodeToString(sum[:])
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(sts))
	return m.Sum(nil)
}

func escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
