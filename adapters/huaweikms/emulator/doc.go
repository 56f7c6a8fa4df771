// Package emulator is a strict local Huawei Cloud KMS (API v1.0) serving the
// calls tagwarden makes, for tests, benchmarks and the demo. Clients talk to
// it through the official SDK over HTTP: New builds a Server (an
// http.Handler, usable with httptest), Listen serves it on a loopback TCP
// port and returns the endpoint to give the SDK.
//
// # Calls
//
// For every project in Options.Projects (default DefaultProject):
//
//   - POST /v1.0/{project_id}/kms/list-keys: body limit, marker, key_state,
//     key_spec, enterprise_project_id, sequence (all strings). key_spec
//     defaults to AES_256; ALL lists every spec. limit defaults to 1000 and
//     must be 1..Options.MaxListLimit (default 1000). Answers keys,
//     key_details (with the live-only fields pending_days, keystore_type,
//     multi_region_key_type), next_marker ("" on the last page), truncated
//     ("true"/"false") and total (a number, as the live service answered:
//     the count of keys matching the filters). Keys are listed newest first
//     (creation_date descending, then id), as the live service did. The
//     marker is opaque ("<creation_date>.<key_id>" of the last key returned)
//     and stays valid when keys are added or deleted between pages.
//   - POST /v1.0/{project_id}/kms/describe-key: {"key_id"} → {"key_info":{...}}.
//   - POST /v1.0/{project_id}/kms/resource_instances/action: action filter or
//     count, limit "1".."1000" (default 10), offset (default 0), tags
//     [{key, values[]}] (a key must carry every listed tag key, with one of
//     the values when values is not empty), matches [{key:"resource_name",
//     value}] (substring of the alias). By default each resource is answered
//     in the live shape {"key_details":{...},"tags":[...]}, with no
//     resource_id and no resource_name; with Options.DocumentedShapes it is
//     {"resource_id","resource_detail","resource_name","tags"} as the SDK
//     model expects, and with Options.NumericDetails too the numeric detail
//     fields (creation_date, key_state, default_key_flag, ...) are JSON
//     numbers, as in the API reference's example. total_count counts every match. Keys with no tags are
//     listed unless Options.BulkOmitUntagged; Server.HideFromBulk leaves
//     chosen keys out, so a client's fallback to per-key tags can be tested.
//     Order and offsets follow list-keys.
//   - GET /v1.0/{project_id}/kms/{key_id}/tags → {"tags":[...],"existTagsNum":n}
//     (tags sorted by key).
//   - POST /v1.0/{project_id}/kms/{key_id}/tags/action: {"action":"create"|
//     "delete","tags":[{key,value}],"sequence"?} → 204 with no body.
//
// Request bodies are decoded strictly: malformed JSON, a wrong type (a
// number where the API wants a string), an unknown field or trailing data
// get 400 KMS.0202. An unknown path or method gets 404 APIGW.0101 from the
// "gateway" (before authentication, as a gateway routes first).
//
// # Errors
//
// KMS errors have the documented nested body
// {"error":{"error_code":"KMS.XXXX","error_msg":"..."}}. Codes the public
// documentation does not pin down are the emulator's choice (marked *):
//
//	400 KMS.0202   malformed or unknown JSON, unreadable body (> 1 MiB)
//	400 KMS.0204   a required parameter is missing (body, key_id, action, tags)
//	400 KMS.0205   malformed key id (not 1..64 of [A-Za-z0-9_-]; real ids are UUIDs)
//	400 KMS.0206   sequence present but not 36 bytes
//	404 KMS.0207   the key does not exist
//	400 KMS.0211   the key is a default key (default_key_flag "1"): it cannot be tagged
//	400 KMS.0308   an invalid field: limit, offset, marker, key_spec, key_state,
//	               matches key, or an action other than create/delete (filter/count)
//	400 KMS.0401*  an invalid tag key: empty, longer than 36 characters, containing
//	               ASCII 0-31, * < > \ =, or (create only) starting with a reserved prefix (_sys_)
//	400 KMS.0402*  an invalid tag value: longer than 43 characters or a forbidden character
//	400 KMS.0403*  the same tag key twice in one request (create, delete, or filter)
//	400 KMS.0409   the create would leave the key with more than MaxTags tags (default 10)
//	400 KMS.0416   delete of a tag the key does not have, only with
//	               Options.DeleteMissingTagError (by default such a delete succeeds)
//	500 KMS.0500*, 502 KMS.0502*, 504 KMS.0504*  injected faults
//
// Request checks run in this order: body syntax, action, sequence, tags
// present, each tag, key id syntax, key exists (404), default key (400),
// tag count. A rejected request changes nothing.
//
// Gateway errors come, as the live service sent them, with a flat body
// {"error_msg","error_code","request_id"}; Options.DocumentedShapes nests them
// like KMS errors:
//
//	401 APIGW.0301 "Incorrect IAM authentication information: <reason>"
//	403 APIGW.0302* project in the path not served, or not equal to X-Project-Id
//	404 APIGW.0101 unknown API
//	429 APIG.0308  "The throttling threshold has been reached: policy user over
//	               ratelimit,limit:<n>,time:1 second"
//
// Every answer carries an X-Request-Id header (the SDK's RequestId).
//
// # Tag semantics where the documents are silent
//
//   - create on an existing tag key overwrites its value (Huawei's common tag
//     convention); the limit counts the tags after the merge.
//   - delete of a tag the key does not have succeeds (the convention), unless
//     Options.DeleteMissingTagError. A delete entry with a value deletes the
//     tag only when the value matches (the convention); without a value it
//     deletes by key. Delete checks the source document's key and value
//     rules like create, but not the reserved prefixes (a user guide rule).
//   - a missing value on create means "".
//   - keys in any state can be tagged (pending deletion included); only
//     default keys are refused.
//
// # Signatures
//
// Every call must be signed SDK-HMAC-SHA256 as the SDK signs it. The
// emulator rebuilds the canonical request from what it received (method;
// path with each segment escaped and a trailing slash; sorted query;
// the headers named in SignedHeaders, lower-cased, values trimmed and
// sorted, "host" from the Host line; the signed-header list; the hex
// SHA-256 of the body, or X-Sdk-Content-Sha256 when sent, which must then
// be that hash or UNSIGNED-PAYLOAD), checks that the
// Access key is Options.AccessKey, X-Sdk-Date is signed and within 15
// minutes of Options.Now, and compares HMAC-SHA256(SecretKey, string to
// sign). With Options.SecurityToken set, X-Security-Token must be sent,
// signed and equal; without it, a request carrying a token is refused. An
// X-Project-Id header (the SDK sends it) must equal the path's project.
//
// # Faults
//
// SetFaults changes, while serving, the added Latency, a token-bucket
// RateLimit and a sliding-window WindowLimit per Window (default one
// second: the gateway's count; only calls let through count), both
// answering 429 APIG.0308, the probabilities Rate500, Rate502, Rate504 and
// DropRate (the connection is hijacked and closed without an answer; with a
// writer that cannot be hijacked it answers 502), Unauthorized (every call
// 401, as with expired credentials) and FailKeys (calls naming that key id,
// in the path or in describe-key's body, get that status with a fitting
// body: 401 and 429 the gateway's, 403 KMS.0303*, 404 KMS.0207, 500/502/504
// as injected, another 4xx KMS.0308, anything else KMS.0500) and Sequence
// (the next calls get these statuses in order, with FailKeys' bodies, 0
// serving the call: a scripted run such as one 500 then three 429s).
// Faults.Seed makes the draws repeatable. The order is: route, latency,
// drop/5xx draw, Unauthorized, signature, project, window and bucket,
// Sequence, injected 5xx, FailKeys, the call itself.
//
// # Seeds and state
//
// LoadSeed reads a JSON array in the shape of the API's own resource listing
// (resource_id, resource_detail with the KeyDetails fields, tags, and an
// optional project_id), or a captured resource_instances response, live
// shape (key_details) included, and rejects what the real service could not
// hold (see LoadSeed). Fields a seed leaves empty are filled as the live
// service shows them: key_spec AES_256, key_usage ENCRYPT_DECRYPT,
// key_state "2", default_key_flag "0", key_type "1", origin kms,
// key_rotation_enabled "false", sys_enterprise_project_id "0", keystore_id
// "0", keystore_type DEFAULT, multi_region_key_type SINGLE, realm
// DefaultRealm, domain_id DefaultDomain, creation_date 1700000000000 and an
// alias KMS-xxxx. New also refuses seed keys in a project it does not serve
// and keys with more than MaxTags tags.
//
// SampleKeys makes realistic keys (see its doc); testdata/sample-seed.json is
// SampleKeys(20, 1) (regenerate with go test -run TestSampleSeedFile -update).
//
// Keys and Tags read the state back; AddKey (no rule checks, so tests can
// plant states the API would refuse; a key without an id is ignored),
// DeleteKey and HideFromBulk (by key id, in every project) change it behind
// the API's back. Stats counts calls by API (APIListKeys, APIDescribeKey,
// APIResourceInstances, APIShowTags, APITagsAction; unknown paths only count
// in Status), answers by status (0 = dropped or abandoned), Writes
// (tags/action answered 204) and RejectedWrites (tags/action answered 4xx,
// authentication and throttling included); ResetStats zeroes them.
//
// Keys are held in one slice per project in listing order with an index by
// id, and pages are served from it without copying other keys, so 100k keys
// cost tens of megabytes and a page stays cheap.
package emulator
