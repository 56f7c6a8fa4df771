// Package smnemu is a strict local Huawei Cloud SMN (Simple Message
// Notification, API v2) serving the one call tagwarden makes,
// PublishMessage, for tests and the demo. Clients talk to it through the
// official SDK over HTTP: New builds a Server (an http.Handler, usable with
// httptest), Listen serves it on a loopback port and returns the endpoint
// to give the SDK. It follows the KMS emulator's shape
// (adapters/huaweikms/emulator) and checks signatures with its
// VerifySignature.
//
// # The call
//
// POST /v2/{project_id}/notifications/topics/{topic_urn}/publish with a
// JSON body (PublishMessageRequestBody): subject, message,
// message_structure, message_template_name, tags, time_to_live,
// message_attributes, locale. It answers 200
// {"request_id","message_id"}, the message id being 32 lower-case
// hexadecimal digits as in the API reference's example, and records the
// message (Published).
//
// # What is checked, in order
//
//  1. The route: any other path or method gets the gateway's 404
//     APIGW.0101, before authentication (a gateway routes first).
//  2. The signature (SDK-HMAC-SHA256, emulator.VerifySignature: access
//     key, X-Sdk-Date within 15 minutes, the security token exactly when
//     Options.SecurityToken is set, the payload hash, the signature): 401
//     APIGW.0301 "Incorrect IAM authentication information: <reason>" in
//     the gateway's flat body {"error_msg","error_code","request_id"}.
//  3. X-Project-Id, when sent: signed, and equal to the path's project
//     (403 APIGW.0302).
//  4. The project: one with a served topic (else 403 APIGW.0302).
//  5. The topic URN: urn:smn:{region}:{project}:{name} with SMN's name
//     rule and the path's project (400 SMN.0005 "Parameter: TopicUrn is
//     invalid."; that a URN of another project is refused so is
//     inferred); a topic not served gets 404 SMN.0006 "Topic not found."
//     (documented), or with Options.LiveNotFound 400 SMN.00010008 in the
//     gateway's shape (inferred from a client of the live service); a
//     topic in Options.Deny gets 403 SMN.00308 "Policy doesn't allow
//     smn:topic:publish to be performed." (the code is documented; when
//     the live service uses it is inferred).
//  6. The body, decoded strictly: malformed JSON, an unknown field, a
//     wrong type or trailing data get 400 SMN.0010 (the code is the
//     emulator's choice).
//  7. The rules of PublishMessage (each constant cites its source):
//     subject ≤ MaxSubjectBytes, UTF-8, and one line (the last inferred)
//     else 403 SMN.0008; one of message, message_structure or
//     message_template_name (message_structure a JSON object with a
//     "default" string, else 400 SMN.0021; templates are not served: 404
//     SMN.0027); message not empty, UTF-8, ≤ MaxMessageBytes, else 403
//     SMN.0009 (SMN's table gives these invalid parameters status 403);
//     time_to_live 1..MaxTimeToLive; message_attributes at most
//     Options.MaxAttributes (a bound the emulator infers), each with a
//     name of 1..32 of [a-z0-9_] with no '_' first, last or doubled, a
//     type STRING (one value), STRING_ARRAY (1..10 distinct values) or
//     PROTOCOL (known protocols), each value 1..32 letters, Chinese
//     characters, digits or '_', and no name twice (inferred): else 400
//     SMN.0046 (a documented code for an attribute name, used for every
//     attribute refusal by the emulator's choice).
//
// SMN's own errors have the documented body {"request_id","code","message"}
// (API reference, "Exception Response", smn_api_63001); the SDK reads both
// shapes.
//
// # Faults and inspection
//
// SetFaults injects latency, a Sequence of statuses for the next calls,
// random 500s and dropped connections, and blanket 401s (Faults), as the
// KMS emulator does. A call whose client left (its deadline) publishes
// nothing. Published returns what was accepted; Calls counts requests and
// answers by status; Reset clears both.
package smnemu
