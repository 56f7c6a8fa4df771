// Package obsemu is a strict local Huawei Cloud OBS serving the calls
// tagwarden makes, for tests and the demo. Clients talk to it through the
// official OBS Go SDK over HTTP: New builds a Server (an http.Handler,
// usable with httptest), Listen serves it on a loopback TCP port and
// returns the endpoint to give the SDK (an IP address, so the SDK puts the
// bucket in the path).
//
// # Calls
//
// For every bucket in Options.Buckets, addressed in the path
// (/bucket/key) or, with Options.Domain, by host (bucket.domain/key):
//
//   - PUT object: Content-Length required (411 MissingContentLength
//     otherwise, chunked bodies included); the key at most MaxKeyBytes
//     (400 KeyTooLongError), the body at most MaxObjectBytes (400
//     EntityTooLarge); Content-MD5, when sent, must be the body's (400
//     InvalidDigest, BadDigest); a body shorter than its Content-Length is
//     400 IncompleteBody. Stores the bytes, Content-Type and
//     Content-Encoding, and answers ETag: the quoted hex MD5.
//   - GET and HEAD object: the bytes (GET) with Content-Type,
//     Content-Encoding, ETag, Content-Length and Last-Modified; 404
//     NoSuchKey. Range and conditional headers are not served (the whole
//     object is); Accept-Encoding is ignored, as OBS does.
//   - DELETE object: 204, whether it existed or not.
//   - HEAD bucket: 200.
//
// Anything else is 405 MethodNotAllowed (an object) or 501 NotImplemented
// (a bucket, the service, a subresource such as ?acl).
//
// # Order of checks
//
// Latency, then the random faults (drop, 500, 503), the URI (400
// InvalidURI), Unauthorized, the signature, the Sequence, the bucket (404
// NoSuchBucket), Deny (403 AccessDenied), the operation. A PUT waits its
// Latency once its body is read (net/http watches the connection for a
// client that gives up only then): a PUT whose client has gone by then
// stores nothing and is answered nothing.
//
// # Signature
//
// The header signature, recomputed from the request as received: the
// scheme names the header prefix ("OBS" with x-obs-*, "AWS" with x-amz-*,
// the OBS SDK's default), then StringToSign = verb, Content-MD5,
// Content-Type, Date (empty when the prefix's date header is sent), the
// prefix's headers in lower case and sorted, and the resource: "/bucket"
// and the path as sent, then the signed subresources sorted
// (https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0010.html).
// The signature, Base64(HMAC-SHA1(SK, StringToSign)), is compared in
// constant time (403 SignatureDoesNotMatch). Before it: the access key
// (403 InvalidAccessKeyId), the security token, required iff
// Options.SecurityToken is set (403 InvalidAccessKeyId); no Authorization
// header is 403 AccessDenied; V4 signatures and signed URLs are not
// served (403 AccessDenied, saying so). After it: the date within
// MaxClockSkew, 15 minutes (403 RequestTimeTooSkewed).
//
// # Errors
//
// OBS's XML body, <?xml ...?><Error><Code/><Message/><RequestId/><HostId/>
// (and <Key/> or <BucketName/>)</Error>, with the headers x-obs-request-id
// and x-obs-id-2 (on every answer); none for HEAD. An error answering a
// PUT reads the body first (up to 64 MiB), so that the client reads the
// answer.
//
// # Faults and inspection
//
// SetFaults injects Latency, Sequence (statuses for the next verified
// calls), Rate500, Rate503 (SlowDown), DropRate and Unauthorized, with a
// Seed. Object, Keys and Calls (calls by operation, answers by status,
// the most bytes one PUT delivered) inspect; SetObject plants an object,
// SetDenied denies a bucket. A call whose client has gone (its deadline)
// stores nothing.
package obsemu
