package cesemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The API's rules for POST /V1.0/{project_id}/metric-data, each checked
// here on its own (the emulator shares no code with the client, so that a
// client's mistake is not repeated by its judge). Sources:
//
//   - [API] Huawei Cloud, Cloud Eye API Reference, "Adding Monitoring Data",
//     https://support.huaweicloud.com/intl/en-us/api-ces/en-us_topic_0032831274.html
//   - [QRY] the same reference, "Querying Monitoring Data of a Metric" (the
//     namespace rule in full),
//     https://support.huaweicloud.com/intl/pt-br/api-ces/ces_03_0033.html
//   - [OTC] the same API as published by Open Telekom Cloud (Huawei's
//     text), github.com/opentelekomcloud-docs/cloud-eye,
//     api-ref/source/api_v1/monitoring_data/adding_monitoring_data.rst
//   - [SDK] the field comments of huaweicloud-sdk-go-v3 v0.1.207,
//     services/ces/v1/model (MetricInfo, MetricsDimension,
//     CreateMetricDataRequestBody), generated from Huawei's API Explorer
//   - [TF] terraform-provider-huaweicloud, docs/resources/ces_metric_data_add.md
//   - [ERR] the reference's "Error Codes" page (ces.0001 ... ces.0017):
//     https://support.huaweicloud.com/intl/en-us/api-ces/ErrorCode.html and
//     [OTC] api-ref/source/common_parameters/error_codes.rst
const (
	// MaxBodyBytes is the largest request body: "The size of a POST request
	// cannot exceed 512 KB" [API]. Read as 512 × 1000 bytes, the stricter
	// reading of "KB".
	MaxBodyBytes = 512 * 1000
	// MinTTL and MaxTTL bound ttl, in seconds: "1 to 604800" [API][OTC][SDK].
	MinTTL, MaxTTL = 1, 604800
	// MaxCollectAge and MaxCollectAhead bound collect_time around the
	// server's clock: "between three days before and 10 minutes after the
	// current time" [API].
	MaxCollectAge   = 72 * time.Hour
	MaxCollectAhead = 10 * time.Minute
	// MaxDimensions per metric: "[1,4]" [SDK], "A maximum of four
	// dimensions" [TF] (Open Telekom Cloud's copy says three).
	MaxDimensions = 4
	// MaxUnitChars bounds unit: "0 to 32 characters" [OTC][SDK].
	MaxUnitChars = 32
)

var (
	// namespaceRE: "service.item ... service and item each must start with
	// a letter and contain only letters, digits, and underscores (_)" and
	// "3 to 32 characters" (the whole namespace) [QRY][OTC][SDK].
	namespaceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$`)
	// metricNameRE: "must start with a letter, only 0-9/a-z/A-Z/_/-;
	// length [1,96]" [SDK].
	metricNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,95}$`)
	// dimNameRE: "must start with a letter ... 1 to 32 characters ...
	// letters, digits, underscores (_), and hyphens (-)" [OTC][SDK].
	dimNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)
	// dimValueRE: "must start with a letter or digit ... 1 to 256
	// characters ... letters, digits, underscores (_), and hyphens (-)"
	// [OTC]; the SDK says only "[1,256]": the stricter rule is checked.
	dimValueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$`)
	// projectRE: "^[a-zA-Z0-9-]{1,64}$" [OTC].
	projectRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// reservedServices may not begin a custom namespace's service: "service
// cannot start with SYS, AGT, or SRE" [QRY][OTC][TF]; compared without
// regard to case (namespaces are described as case-insensitive [QRY]).
var reservedServices = []string{"SYS", "AGT", "SRE"}

// reservedNamespace "has been used by the system" [QRY][OTC][TF].
const reservedNamespace = "SERVICE.BMS"

// wireItem is one element of the request array, every field raw so that
// the emulator sees exactly what was sent: a quoted number is not a number.
type wireItem struct {
	Metric      *wireMetric     `json:"metric"`
	TTL         json.RawMessage `json:"ttl"`
	CollectTime json.RawMessage `json:"collect_time"`
	Value       json.RawMessage `json:"value"`
	Unit        json.RawMessage `json:"unit"`
	Type        json.RawMessage `json:"type"`
}

type wireMetric struct {
	Namespace  json.RawMessage `json:"namespace"`
	MetricName json.RawMessage `json:"metric_name"`
	Dimensions json.RawMessage `json:"dimensions"`
}

type wireDim struct {
	Name  json.RawMessage `json:"name"`
	Value json.RawMessage `json:"value"`
}

// refusal is a request the service refuses: its status, CES error code and
// the details line of the error body.
type refusal struct {
	status int
	code   string
	reason string
}

func (r *refusal) Error() string { return fmt.Sprintf("%d %s: %s", r.status, r.code, r.reason) }

func badBody(format string, a ...any) *refusal {
	return &refusal{400, CodeBadBody, fmt.Sprintf(format, a...)}
}

// Decode parses and checks a metric-data request body as the emulator
// does at time now, and returns its points (Project and Received unset),
// or the refusal: status 400 with ces.0001 (empty) or ces.0014 (anything
// else wrong), or 403 ces.0009 (a system namespace). maxItems > 0 bounds
// the items. It is exported for fuzzing and for tests of clients that
// build bodies by hand.
func Decode(body []byte, now time.Time, maxItems int) ([]Point, error) {
	pts, r := decode(body, now, maxItems)
	if r != nil {
		return nil, r
	}
	return pts, nil
}

func decode(body []byte, now time.Time, maxItems int) ([]Point, *refusal) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &refusal{400, CodeEmpty, "The content must be specified."}
	}
	if len(body) > MaxBodyBytes {
		return nil, badBody("the request body has %d bytes: a POST request cannot exceed 512 KB (%d bytes)", len(body), MaxBodyBytes)
	}
	if !utf8.Valid(body) {
		return nil, badBody("the request body is not valid UTF-8")
	}
	if trimmed[0] != '[' {
		return nil, badBody("the request body must be a JSON array of metric data")
	}
	if err := checkJSON(body); err != nil {
		return nil, badBody("malformed JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var items []wireItem
	if err := dec.Decode(&items); err != nil {
		return nil, badBody("malformed request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badBody("data after the JSON array")
	}
	if len(items) == 0 {
		return nil, &refusal{400, CodeEmpty, "The content must be specified."}
	}
	if maxItems > 0 && len(items) > maxItems {
		return nil, badBody("%d items: at most %d per request", len(items), maxItems)
	}
	pts := make([]Point, 0, len(items))
	for i, it := range items {
		p, r := checkItem(it, now)
		if r != nil {
			r.reason = fmt.Sprintf("item %d: %s", i, r.reason)
			return nil, r
		}
		pts = append(pts, p)
	}
	return pts, nil
}

// checkItem applies the rules above to one item.
func checkItem(it wireItem, now time.Time) (Point, *refusal) {
	var p Point
	if it.Metric == nil {
		return p, badBody("metric is required")
	}
	ns, r := reqString("metric.namespace", it.Metric.Namespace)
	if r != nil {
		return p, r
	}
	if r := checkNamespace(ns); r != nil {
		return p, r
	}
	name, r := reqString("metric.metric_name", it.Metric.MetricName)
	if r != nil {
		return p, r
	}
	if !metricNameRE.MatchString(name) {
		return p, badBody("metric.metric_name %q: 1 to 96 characters, a letter first, then letters, digits, _ or -", clip(name))
	}
	dims, r := checkDimensions(it.Metric.Dimensions)
	if r != nil {
		return p, r
	}
	ttl, r := reqInt("ttl", it.TTL)
	if r != nil {
		return p, r
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return p, badBody("ttl %d: must be %d to %d seconds", ttl, MinTTL, MaxTTL)
	}
	ms, r := reqInt("collect_time", it.CollectTime)
	if r != nil {
		return p, r
	}
	at := time.UnixMilli(ms).UTC()
	if at.Before(now.Add(-MaxCollectAge)) || at.After(now.Add(MaxCollectAhead)) {
		return p, badBody("collect_time %d (%s): must fall between three days before and 10 minutes after the current time (%s)",
			ms, at.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	value, r := reqFloat("value", it.Value)
	if r != nil {
		return p, r
	}
	unit, r := optString("unit", it.Unit)
	if r != nil {
		return p, r
	}
	if n := utf8.RuneCountInString(unit); n > MaxUnitChars {
		return p, badBody("unit has %d characters: at most %d", n, MaxUnitChars)
	}
	typ, r := optString("type", it.Type)
	if r != nil {
		return p, r
	}
	switch typ {
	case "", "float":
	case "int":
		// The emulator's reading of "int: integer" [SDK][OTC]: an int
		// value has no fraction.
		if value != math.Trunc(value) {
			return p, badBody("type is int but value %v has a fraction", value)
		}
	default:
		return p, badBody("type %q: must be int or float", clip(typ))
	}
	return Point{Namespace: ns, Metric: name, Dimensions: dims, Value: value, Type: typ,
		Unit: unit, CollectTime: at, TTL: int(ttl)}, nil
}

// checkNamespace is the namespace rule [QRY][OTC][SDK][TF].
func checkNamespace(ns string) *refusal {
	if len(ns) < 3 || len(ns) > 32 || !namespaceRE.MatchString(ns) {
		return badBody("metric.namespace %q: service.item, 3 to 32 characters, each part a letter first, then letters, digits or _", clip(ns))
	}
	service, _, _ := strings.Cut(ns, ".")
	for _, p := range reservedServices {
		if len(service) >= len(p) && strings.EqualFold(service[:len(p)], p) {
			return &refusal{403, CodeSystemMetric, fmt.Sprintf("Adding SYS metric is not allowed: namespace %q (a service may not start with SYS, AGT or SRE)", ns)}
		}
	}
	if strings.EqualFold(ns, reservedNamespace) {
		return &refusal{403, CodeSystemMetric, fmt.Sprintf("Adding SYS metric is not allowed: namespace %q is used by the system", ns)}
	}
	return nil
}

// checkDimensions is the dimensions rule: 1 to MaxDimensions objects
// {name, value} [SDK][TF], each name and value by their rules [OTC], no
// name twice (the emulator's reading: a series has one value per
// dimension).
func checkDimensions(raw json.RawMessage) ([]Dimension, *refusal) {
	if isAbsent(raw) {
		return nil, badBody("metric.dimensions is required")
	}
	if raw[0] != '[' {
		return nil, badBody("metric.dimensions must be an array")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ws []wireDim
	if err := dec.Decode(&ws); err != nil {
		return nil, badBody("metric.dimensions: %v", err)
	}
	if len(ws) < 1 || len(ws) > MaxDimensions {
		return nil, badBody("metric.dimensions has %d dimensions: 1 to %d", len(ws), MaxDimensions)
	}
	out := make([]Dimension, 0, len(ws))
	seen := make(map[string]bool, len(ws))
	for j, w := range ws {
		name, r := reqString(fmt.Sprintf("metric.dimensions[%d].name", j), w.Name)
		if r != nil {
			return nil, r
		}
		if !dimNameRE.MatchString(name) {
			return nil, badBody("metric.dimensions[%d].name %q: 1 to 32 characters, a letter first, then letters, digits, _ or -", j, clip(name))
		}
		value, r := reqString(fmt.Sprintf("metric.dimensions[%d].value", j), w.Value)
		if r != nil {
			return nil, r
		}
		if !dimValueRE.MatchString(value) {
			return nil, badBody("metric.dimensions[%d].value %q: 1 to 256 characters, a letter or digit first, then letters, digits, _ or -", j, clip(value))
		}
		if seen[name] {
			return nil, badBody("metric.dimensions: %q given twice", name)
		}
		seen[name] = true
		out = append(out, Dimension{Name: name, Value: value})
	}
	return out, nil
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// reqString decodes a required JSON string.
func reqString(field string, raw json.RawMessage) (string, *refusal) {
	if isAbsent(raw) {
		return "", badBody("%s is required", field)
	}
	s, r := optString(field, raw)
	return s, r
}

// optString decodes an optional JSON string (absent or null: "").
func optString(field string, raw json.RawMessage) (string, *refusal) {
	if isAbsent(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", badBody("%s must be a string", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badBody("%s: %v", field, err)
	}
	return s, nil
}

// number returns a JSON number literal as text, or why raw is not one.
func number(field string, raw json.RawMessage) (string, *refusal) {
	if isAbsent(raw) {
		return "", badBody("%s is required", field)
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return "", badBody("%s must be a number", field)
	}
	return string(raw), nil
}

// reqInt decodes a required JSON integer (no fraction, no exponent).
func reqInt(field string, raw json.RawMessage) (int64, *refusal) {
	s, r := number(field, raw)
	if r != nil {
		return 0, r
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badBody("%s %s: must be an integer", field, clip(s))
	}
	return n, nil
}

// reqFloat decodes a required finite JSON number.
func reqFloat(field string, raw json.RawMessage) (float64, *refusal) {
	s, r := number(field, raw)
	if r != nil {
		return 0, r
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, badBody("%s %s: must be a finite number", field, clip(s))
	}
	return f, nil
}

// checkJSON walks body as one JSON value and refuses an object that names
// a key twice (which encoding/json would silently resolve to the last).
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := walk(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

const maxDepth = 32

func walk(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		for dec.More() {
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	case '{':
		keys := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if keys[k] {
				return fmt.Errorf("key %q given twice", clip(k))
			}
			keys[k] = true
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// clip keeps quoted values in messages short.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
