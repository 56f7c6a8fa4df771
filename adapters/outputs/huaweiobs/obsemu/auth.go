package obsemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// MaxClockSkew is how far the signed date may be from the server's clock:
// "if the time differs from the server time by more than 15 minutes, the
// server returns 403" (https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0010.html),
// with RequestTimeTooSkewed (https://support.huaweicloud.com/intl/en-us/api-obs/obs_errorcode_0012.html).
const MaxClockSkew = 15 * time.Minute

// Messages of the answers to a failed authentication, as OBS words them
// (https://support.huaweicloud.com/intl/en-us/api-obs/obs_errorcode_0009.html).
const (
	msgNoSuchAK       = "The OBS Access Key Id you provided does not exist in our records."
	msgBadToken       = "The security token is invalid."
	msgSignature      = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgNotYetValid    = "Request is not yet valid."
	msgNoLongerValid  = "Request is no longer valid."
	msgAnonymous      = "Access Denied"
	msgUnsupportedSig = "this emulator verifies the OBS and AWS v2 signatures in the Authorization header only"
)

// subresources are the query parameters that are part of the signed
// resource: the list the OBS SDK signs (obs/const.go,
// allowedResourceParameterNames), besides those starting with the
// signature's header prefix.
var subresources = map[string]bool{
	"acl": true, "backtosource": true, "metadata": true, "policy": true, "torrent": true,
	"logging": true, "location": true, "storageinfo": true, "quota": true, "storageclass": true,
	"storagepolicy": true, "requestpayment": true, "versions": true, "versioning": true,
	"versionid": true, "uploads": true, "uploadid": true, "partnumber": true, "website": true,
	"notification": true, "lifecycle": true, "deletebucket": true, "delete": true, "cors": true,
	"restore": true, "encryption": true, "tagging": true, "append": true, "modify": true,
	"position": true, "replication": true, "response-content-type": true,
	"response-content-language": true, "response-expires": true, "response-cache-control": true,
	"response-content-disposition": true, "response-content-encoding": true,
	"x-image-process": true, "x-oss-process": true, "x-image-save-bucket": true,
	"x-image-save-object": true, "ignore-sign-in-query": true, "name": true, "rename": true,
	"customdomain": true, "mirrorbacktosource": true, "x-obs-accesslabel": true,
	"object-lock": true, "retention": true, "x-obs-security-token": true, "truncate": true,
	"length": true, "inventory": true, "directcoldaccess": true, "attname": true,
	"cdnnotifyconfiguration": true, "publicaccessblock": true, "bucketstatus": true,
	"policystatus": true,
}

// queryParam is one parameter of a request's query, decoded.
type queryParam struct{ key, value string }

// parseQuery splits a raw query as received, keeping the order and the
// parameters without "=". ok is false when an escape is malformed.
func parseQuery(raw string) (params []queryParam, ok bool) {
	if raw == "" {
		return nil, true
	}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		params = append(params, queryParam{dk, dv})
	}
	return params, true
}

// canonicalSubresources is the signed part of the query: the subresources
// and the parameters starting with prefix, sorted by name, each as the
// escaped name, then "=" and the value as it is when there is one, joined
// by "&" after a "?" ("" when there are none).
func canonicalSubresources(params []queryParam, prefix string) string {
	var picked []queryParam
	for _, p := range params {
		l := strings.ToLower(p.key)
		if subresources[l] || strings.HasPrefix(l, prefix) {
			picked = append(picked, p)
		}
	}
	if len(picked) == 0 {
		return ""
	}
	sort.SliceStable(picked, func(i, j int) bool { return picked[i].key < picked[j].key })
	var b strings.Builder
	for i, p := range picked {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.key))
		if p.value != "" {
			b.WriteByte('=')
			b.WriteString(p.value)
		}
	}
	return b.String()
}

// stringToSign is OBS's StringToSign for a header signature, recomputed
// from the request as received:
//
//	HTTP-Verb "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
//	CanonicalizedHeaders CanonicalizedResource
//
// where Date is empty when the prefix's date header (x-obs-date,
// x-amz-date) is sent, CanonicalizedHeaders are the headers starting with
// prefix, names in lower case, sorted, each "name:value\n" (the values of
// a repeated header joined by ","), and CanonicalizedResource is
// resource followed by the signed subresources
// (https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0010.html).
func stringToSign(r *http.Request, prefix, date, resource string) string {
	var names []string
	for name := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, prefix) {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	for _, name := range names {
		b.WriteString(strings.ToLower(name))
		b.WriteByte(':')
		b.WriteString(strings.Join(r.Header[name], ","))
		b.WriteByte('\n')
	}
	b.WriteString(resource)
	return b.String()
}

// sign is the signature of a StringToSign: Base64(HMAC-SHA1(sk, sts)).
func sign(sk, sts string) string {
	m := hmac.New(sha1.New, []byte(sk))
	m.Write([]byte(sts)) //nolint:errcheck // a hash never fails
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a request's header signature ("Authorization: OBS
// ak:signature" with x-obs-* headers, or "AWS ak:signature" with x-amz-*
// headers, as the SDK sends by default) against the server's credentials:
// the access key, the security token (required when the server has one,
// refused when it has none), the signature recomputed from the request as
// received and compared in constant time, then the date within
// MaxClockSkew of now.
func (s *Server) verify(r *http.Request, rt *route, now time.Time) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return &apiError{403, "AccessDenied", msgAnonymous}
	}
	scheme, rest, _ := strings.Cut(authz, " ")
	var prefix string
	switch scheme {
	case "OBS":
		prefix = "x-obs-"
	case "AWS":
		prefix = "x-amz-"
	default:
		return &apiError{403, "AccessDenied", msgUnsupportedSig}
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || i == len(rest)-1 {
		return &apiError{400, "InvalidArgument", "Authorization header is malformed: want " + scheme + " AccessKeyID:Signature"}
	}
	ak, sig := rest[:i], rest[i+1:]
	if subtle.ConstantTimeCompare([]byte(ak), []byte(s.opts.AccessKey)) != 1 {
		return &apiError{403, "InvalidAccessKeyId", msgNoSuchAK}
	}
	token := r.Header.Get(prefix + "security-token")
	switch {
	case s.opts.SecurityToken != "" && token == "":
		// A temporary access key is known only with its token.
		return &apiError{403, "InvalidAccessKeyId", msgNoSuchAK}
	case s.opts.SecurityToken == "" && token != "",
		s.opts.SecurityToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.SecurityToken)) != 1:
		return &apiError{403, "InvalidAccessKeyId", msgBadToken}
	}
	date, signedDate := r.Header.Get("Date"), r.Header.Get(prefix+"date")
	when := date
	if signedDate != "" {
		when, date = signedDate, ""
	}
	sts := stringToSign(r, prefix, date, rt.resource+canonicalSubresources(rt.query, prefix))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(sign(s.opts.SecretKey, sts))) != 1 {
		return &apiError{403, "SignatureDoesNotMatch", msgSignature}
	}
	if when == "" {
		return &apiError{403, "AccessDenied", "The request has neither a Date nor an " + prefix + "date header."}
	}
	t, err := http.ParseTime(when)
	if err != nil {
		return &apiError{403, "AccessDenied", "The request's date " + when + " is not an RFC 1123 date."}
	}
	switch d := now.Sub(t); {
	case d > MaxClockSkew:
		return &apiError{403, "RequestTimeTooSkewed", msgNoLongerValid}
	case d < -MaxClockSkew:
		return &apiError{403, "RequestTimeTooSkewed", msgNotYetValid}
	}
	return nil
}
