// Package huaweikms is the handler.KeyStore over Huawei Cloud KMS: it lists
// keys with their tags, reads one key fresh and writes tags, only through the
// official Go SDK (huaweicloud-sdk-go-v3, services/kms/v2).
//
// # Contracts
//
// New builds a Store from a Config without network calls; it is cheap, so
// build one per invocation (temporary credentials are never kept in package
// state). Credentials are explicit (AK/SK and the security token of
// temporary credentials) or come from the SDK's chain (environment, then
// profile file); the project id is always set on them, so the SDK never
// calls IAM. The endpoint is Config.Endpoint as given, else the region's.
//
// Every HTTP call, retries included, waits for its Pacer (Config.Pacer,
// default 20 per second; give the stores of a process one NewPacer): calls
// spaced evenly (x/time/rate, burst 1), at most floor(rate) in any sliding
// second plus WindowSlack (the gateway counts per second), and a pause of
// every caller after a 429, one interval doubling while 429s follow, up to
// the window after the throttled send. The wait takes the caller's
// context, and returns at once when it would pass the deadline. The SDK has
// no context: each call builds a
// client whose transport binds the caller's context to the request, so the
// call itself stops at the deadline too; HTTPTimeout (default 30s) bounds
// one request. 429 (and the gateway's APIG.0308), 500, 502, 503, 504 and
// network faults are retried with exponential backoff and full jitter, and
// never when the next wait would cross the deadline; 400, 401, 403 and 404
// never are. Throttled calls have their own budget, MaxThrottleRetries
// (default 12), as a 429 means "later", not "broken"; the other faults
// MaxRetries (default 4); each counts only its own retries, so a call
// meeting one 500 and then several 429s has spent one of MaxRetries. A
// throttled error's hint gives the gateway's limit (from its message) and
// the rate the store allows itself.
//
// Every failure is an *Error carrying the API, key id, HTTP status, error
// code, message and request id, and unwrapping to one handler kind through
// one table (errorTable): KMS.0207, KMS.0416 (tag not found) and 404 →
// ErrNotFound; KMS.0211 → ErrDefaultKey; other 4xx → ErrInvalid; 401, 403
// and the gateway's APIGW.* → ErrDenied; 429 and APIG.0308 → ErrThrottled;
// 5xx, network faults and deadlines → ErrTransient. Both error body shapes
// are understood: KMS's nested {"error":{...}} and the API gateway's flat
// {"error_code", "error_msg","request_id"}.
//
// Listing (Store.List) runs in two phases. Phase 1 streams the bulk listing
// (resource_instances/action, action filter, no tag filter, pages of 1000
// by offset) and delivers each key with its tags. Its responses are decoded
// tolerantly, in the live shape ({"key_details":{...},"tags":[...]}, no
// resource_id) and the documented one ({"resource_id","resource_detail",
// "tags"}), with numbers or strings in detail fields; an entry that cannot
// be tied to a key is skipped. Phase 2 walks ListKeys (key_spec ALL, by
// marker) and delivers, with Tags nil (unknown: call Store.Tags), every key
// phase 1 did not; a compact set of the ids delivered (UUIDs as 16 bytes in
// a sorted slice: about 20 bytes per key in all, BenchmarkSeenSet) tells
// them apart and keeps any key from being delivered twice. If the bulk
// listing fails after its retries (except ErrDenied and an expired context,
// which end the listing) or cannot be decoded, a warning is logged and
// phase 2 delivers the rest. Page.Cursor (base64url JSON of the phase and
// offset or marker) resumes at the start of its page; resuming past the
// first bulk page first re-reads the ids of the bulk pages before it (one
// call per 1000 keys).
//
// Apply sends one BatchCreateKmsTags call with a fresh sequence (UUID),
// after refusing locally, with ErrInvalid and without sending, a batch
// longer than Limits.MaxBatch, an action other than create/delete, a
// duplicate key or a tag breaking policy.Limits. Deleting a tag that is
// already gone (KMS.0416) is done: with several tags, those still present
// are deleted again.
//
// Logs go to Config.Log (logrus): a warning on fallback, debug lines on
// retries. Credentials never reach a log line or an error message: a
// response echoing the store's access key (or, worse, its secret key or
// token) is masked before it is parsed (the access key as its first four
// characters and ****).
package huaweikms
