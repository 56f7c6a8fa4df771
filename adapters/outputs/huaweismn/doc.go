// Package huaweismn sends notifications through Huawei Cloud SMN (Simple
// Message Notification): a Notifier (outputs.Notifier) over the official
// SDK's PublishMessage (huaweicloud-sdk-go-v3 services/smn/v2; POST
// /v2/{project_id}/notifications/topics/{topic_urn}/publish), and
// ParseTopicURN for the topic it publishes to.
//
// Contracts:
//   - One message is one PublishMessage call: subject, message, and one
//     message attribute of type STRING_ARRAY per outputs.Attribute that
//     has values (empty values dropped, each value once, in order), which
//     subscription filter policies can match.
//   - A message breaking SMN's rules (MaxSubjectBytes, one line,
//     MaxMessageBytes of UTF-8, the attribute rules: MaxAttributes,
//     MaxAttributeNameLen, MaxAttributeValues, MaxAttributeValueLen) is
//     refused before sending with ErrInvalid; the constants cite their
//     sources.
//   - One attempt per Publish: the caller retries (outputs.Error.Retryable:
//     throttled or transient). The SDK retries nothing: one endpoint, no
//     invoker retry, HttpConfig.Retries 0.
//   - ctx bounds the call: the SDK makes requests without a context, so
//     each call's client sends through a transport that binds its
//     requests to ctx (as huaweikms does); Config.HTTPTimeout bounds it
//     too. A call cut by ctx is ErrTransient with no status.
//   - Every error is an *outputs.Error{Service: "smn", Op: "publish"} with
//     the HTTP status, SMN's or the gateway's code, the message (with the
//     request id), and one kind from one table (errorTable): 404 SMN.0006
//     and SMN.00010008 (topic not found) ErrNotFound; 401 and 403
//     ErrDenied, except the invalid parameters SMN answers 403 (SMN.0008
//     subject, SMN.0009 message, SMN.0047, SMN.0075: ErrInvalid) and the
//     delivery quotas (SMN.0057, SMN.0065: ErrThrottled); 429 ErrThrottled;
//     400 ErrInvalid; 5xx and transport failures ErrTransient.
//   - The credentials never appear in an error: answers are masked before
//     they are read (the access key shown as huaweikms.MaskAccessKey does,
//     the secret key and token replaced whole), and configuration errors
//     never quote them.
//
// The local SMN in smnemu serves PublishMessage strictly for the tests.
package huaweismn
