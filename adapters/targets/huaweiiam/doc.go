// Package huaweiiam discovers the projects the function's identity can
// reach, for automatic targets (TAGWARDEN_TARGETS=auto): a
// targets.Discoverer over Huawei Cloud IAM, only through the official Go
// SDK (huaweicloud-sdk-go-v3 v0.1.207, services/iam/v3 and core/auth/global).
//
// # Contracts
//
// New checks a Config without network calls. Credentials are explicit
// (the access key pair, with the security token of temporary credentials)
// or come from the SDK's chain (environment, then profile file; a
// federated identity without a key pair is refused). The endpoint is IAM's
// global one unless Config.Endpoint says otherwise (a region's, the
// emulator); it takes no path, which the SDK would drop.
//
// Projects calls KeystoneListAuthProjects (GET /v3/auth/projects), signed
// SDK-HMAC-SHA256 by the SDK's global credentials with X-Domain-Id (and
// X-Security-Token for temporary credentials). Without Config.DomainID the
// SDK first looks the account id up with KeystoneListAuthDomains
// (GET /v3/auth/domains) and caches it for the process by access key; when
// IAM lists no account it tries STS GetCallerIdentity in Config.Region (if
// that region has STS) and otherwise fails (see the targets package's
// documentation for the details and the sources). Projects returns every
// project listed, enabled or not, with its region derived from its name
// (targets.RegionOf); targets.Config.Resolve filters them.
//
// The SDK has no context: each call builds a client whose transport binds
// the caller's context to its requests, and Config.HTTPTimeout (default
// 30s) bounds each request. The SDK never retries, and neither does this
// package: the caller decides, by the error's kind (throttled and
// transient failures may succeed later), and caches what it found.
//
// # Errors
//
// Failures are *Error values: the call (OpListAuthProjects or
// OpListAuthDomains), a kind of the handler's, the status, IAM's or the
// gateway's error code and message, the request id, and what to check:
//
//	401, any code           handler.ErrDenied     authentication failed: the keys, the token (temporary credentials expire), the domain id
//	403 (account lookup)    handler.ErrDenied     set the domain id so that no lookup is needed
//	403                     handler.ErrDenied     IAM says KeystoneListAuthProjects needs no permission: an explicit deny refuses it; list the targets instead
//	404                     handler.ErrInvalid    not IAM at this endpoint
//	other APIGW.*           handler.ErrDenied     rejected by the API gateway
//	429, APIG.0308          handler.ErrThrottled
//	400, other 4xx          handler.ErrInvalid
//	5xx                     handler.ErrTransient
//	no answer               handler.ErrTransient  (wraps the network error, or the context's)
//	no account listed       handler.ErrDenied     set the domain id
//
// Messages and codes from IAM are clipped and have the credentials masked;
// neither an error nor String ever shows the secret key, the token or the
// whole access key.
package huaweiiam
