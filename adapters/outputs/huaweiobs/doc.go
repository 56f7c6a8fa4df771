// Package huaweiobs is the outputs.Store over Huawei Cloud OBS: it stores
// the reports and reads them back, only through the official OBS Go SDK
// (github.com/huaweicloud/huaweicloud-sdk-go-obs).
//
// # Contracts
//
// New builds a Store from a Config without network calls, so build one
// per invocation (temporary credentials change). The bucket must pass
// CheckBucket, the prefix CheckPrefix, the endpoint override CheckEndpoint
// (endpoint.Check's rule, and no path or IPv6 literal, which the OBS SDK
// cannot take); without an override the endpoint is
// https://obs.{region}.myhuaweicloud.com. Credentials are explicit, or
// come from the chain the KMS adapter uses (the Huawei Cloud SDK's
// environment provider, HUAWEICLOUD_SDK_AK, _SK, _SECURITY_TOKEN, then its
// profile provider), so that both stores sign with the same keys; the
// security token of temporary credentials goes to the SDK with
// obs.WithSecurityToken.
//
// The SDK signs with its default, obs.SignatureV2 ("Authorization: AWS
// AK:Signature", HMAC-SHA1 over the verb, Content-MD5, Content-Type, Date,
// the x-amz-* headers and the resource /bucket/key): OBS accepts it, and
// the SDK would use it anyway for any path-style client. The OBS signature
// ("OBS AK:Signature", x-obs-* headers) is the same computation under
// other names; the local emulator (obsemu) verifies both.
//
// The SDK takes a context only per client (obs.WithRequestContext), so
// each call builds its own client around one shared http.Client: the
// call's context bounds the request and, for Get, the reading of the body;
// HTTPTimeout (default 60s) bounds one exchange. The SDK never retries
// (obs.WithMaxRetryCount(0): the caller retries) and never follows a
// redirect. The SDK's own transport, which skips TLS verification by
// default, is never used: Config.Transport or a clone of
// http.DefaultTransport is.
//
// Put sends one PutObject of size bytes with Content-Length, Content-Type,
// Content-Encoding and the body's Content-MD5 (OBS checks it); the body is
// read twice and never held in memory: once for the MD5, then streamed by
// net/http from the io.ReadSeeker in 32 KiB reads. One PUT stores at most
// MaxPutBytes (5 GB). Get streams GetObject's body, the bytes as stored
// ("Accept-Encoding: identity": no transport decompresses a gzip report).
//
// Every failure is an *outputs.Error (Service "obs", Op "put_object" or
// "get_object", the HTTP status, OBS's code and message) whose kind comes
// from one table (errorTable): NoSuchKey, NoSuchBucket and 404 →
// ErrNotFound; 401 and 403 (AccessDenied, SignatureDoesNotMatch,
// InvalidAccessKeyId, RequestTimeTooSkewed) → ErrDenied; SlowDown and 429
// → ErrThrottled; RequestTimeout, IncompleteBody, 408, 5xx, network faults
// and the context's end → ErrTransient; other 3xx and 4xx → ErrInvalid; a
// refusal before sending (a key or size over the limits) → ErrInvalid.
// Messages never carry the secret key or the token (redacted should OBS
// ever repeat them), nor the access key whole.
//
// The SDK has a logger of its own, off until obs.InitLog is called; this
// package never calls it, so the SDK writes nothing to stdout, stderr or a
// file.
package huaweiobs
