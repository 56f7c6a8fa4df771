// Package huaweices stores tagwarden's metrics as Huawei Cloud Eye (CES)
// custom metrics through the official SDK (services/ces/v1,
// CreateMetricData: POST /V1.0/{project_id}/metric-data). Sink implements
// outputs.Metrics; package cesemu is the strict local Cloud Eye its tests
// run against.
//
// # Cloud Eye's rules
//
// The Check functions and Put apply them before any call, so that a datum
// Cloud Eye would refuse is refused here, with outputs.ErrInvalid,
// naming it:
//
//   - namespace: service.item, 3 to 32 characters, service and item each
//     a letter then letters, digits or "_"; a service may not start with
//     SYS, AGT or SRE (checked in any case), and SERVICE.BMS is the
//     system's (CheckNamespace). DefaultNamespace, TagWarden.KMS, passes.
//   - metric name: a letter, then letters, digits, "_" or "-", 1 to 96
//     characters (CheckMetricName).
//   - dimensions: 1 to 4 per datum, no name twice; a name is a letter
//     then letters, digits, "_" or "-", 1 to 32 characters; a value a
//     letter or digit then letters, digits, "_" or "-", 1 to 256
//     characters (CheckDimension). SafeDimensionValue maps any string,
//     a policy name or a target such as "ap-southeast-1/p1", to a valid
//     value; dimension names are tagwarden's own identifiers and need no
//     mapping.
//   - value: finite; sent with type "int" when it is a whole number a
//     float64 holds exactly, else "float".
//   - unit: at most 32 characters.
//   - ttl: 1 to 604800 seconds (Config.TTL, default two days).
//   - collect_time (Datum.At, sent in milliseconds): between three days
//     before and ten minutes after the current time, kept CollectMargin
//     (20 s) inside both ends for the latency to the service.
//   - one request's body: at most 512 KB, read as 512,000 bytes. No limit
//     on the number of items is documented; Put fills each call up to the
//     body limit (Config.MaxItems can bound the items too).
//
// Sources:
//
//   - Cloud Eye API Reference, "Adding Monitoring Data" (512 KB, the
//     collect_time window, 201 with no body):
//     https://support.huaweicloud.com/intl/en-us/api-ces/en-us_topic_0032831274.html
//   - the same reference, "Querying Monitoring Data of a Metric" (the
//     namespace rule with SYS, AGT, SRE and SERVICE.BMS):
//     https://support.huaweicloud.com/intl/pt-br/api-ces/ces_03_0033.html
//   - the field comments of huaweicloud-sdk-go-v3 v0.1.207,
//     services/ces/v1/model (MetricInfo: metric name [1,96] and 1 to 4
//     dimensions; MetricsDimension: name [1,32], value [1,256];
//     CreateMetricDataRequestBody: ttl [1,604800], unit [0,32], collect
//     time [now − 3 d + 10 s, now + 10 min − 10 s], type int or float)
//   - Open Telekom Cloud's copy of Huawei's text,
//     github.com/opentelekomcloud-docs/cloud-eye,
//     api-ref/source/api_v1/monitoring_data/adding_monitoring_data.rst
//     (the dimension value's characters; a margin of 20 s at each end of
//     the collect_time window) and common_parameters/error_codes.rst
//   - terraform-provider-huaweicloud, docs/resources/ces_metric_data_add.md
//     (at most four dimensions; the namespace rule)
//   - Cloud Eye's error codes and error body:
//     https://support.huaweicloud.com/intl/en-us/api-ces/ErrorCode.html
//   - APIG's error codes (APIG.0201 413, APIG.0308 429):
//     https://support.huaweicloud.com/intl/en-us/usermanual-apig/apig-ug-180530090.html
//
// Where the sources differ the stricter rule is kept: dimension values
// limited to letters, digits, "_" and "-" (the SDK says only 1 to 256
// characters), 512 KB as 512,000 bytes, and a 20 s margin.
//
// # Calls and errors
//
// New makes no call. Put makes one attempt per call (the SDK's retries
// off), each bounded by Config.HTTPTimeout and the caller's context
// deadline, and returns *outputs.Error{Service: "ces", Op:
// "put_metric_data"} with the HTTP status, Cloud Eye's code (ces.0014,
// ces.0009, ...) or the gateway's (APIGW.0301, APIG.0308, ...), the
// message with the request id, and the kind from one table (errorTable):
// 429 and APIG.0308 throttled; 401 and 403 denied, except ces.0009 (a
// system namespace) invalid; 404 not found; 400 and 413 invalid; 408 and
// 5xx transient; no answer (a network error, the deadline) transient with
// status 0. The caller decides about retries (outputs.Error.Retryable).
// Errors never show the secret key or the security token, and the access
// key only masked.
package huaweices
