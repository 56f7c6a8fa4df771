package smnemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SMN's rules on PublishMessage, which the server enforces. Sources: the
// API reference's "Publishing a Message"
// (https://support.huaweicloud.com/intl/en-us/api-smn/PublishMessage.html)
// and the SDK's model of it (huaweicloud-sdk-go-v3 services/smn/v2/model,
// PublishMessageRequestBody and MessageAttribute, the same reference's
// Chinese text). The emulator states them itself rather than importing the
// client's (huaweismn): a client constant gone wrong must not make the
// emulator agree with it.
const (
	// MaxSubjectBytes: "the subject cannot exceed 512 bytes" (subject).
	MaxSubjectBytes = 512
	// MaxMessageBytes: "the message is a UTF-8 string of at most 256 KB"
	// (message); taken as 256 KiB (no page gives bytes).
	MaxMessageBytes = 256 << 10
	// MaxAttributeNameLen: a name has "1 to 32 characters" of [a-z0-9_],
	// no '_' first, last or twice in a row (MessageAttribute.name).
	MaxAttributeNameLen = 32
	// MaxAttributeValues: a STRING_ARRAY is "an array of 1 to 10 strings,
	// none repeated" (MessageAttribute.value).
	MaxAttributeValues = 10
	// MaxAttributeValueLen: a STRING value, and each STRING_ARRAY value,
	// holds "only Chinese and English letters, digits and underscores, 1
	// to 32 characters" (MessageAttribute.value).
	MaxAttributeValueLen = 32
	// DefaultMaxAttributes bounds the attributes of one message. Inferred:
	// no page found gives a number; 10 is the emulator's choice (the
	// client's huaweismn.MaxAttributes).
	DefaultMaxAttributes = 10
	// MaxTimeToLive bounds time_to_live, in seconds: "a positive integer
	// at most 3600*24" (PublishMessageRequestBody.TimeToLive).
	MaxTimeToLive = 3600 * 24
)

// Error codes of PublishMessage's refusals. Codes from SMN's error code
// table (API reference, Appendix, "Error Codes",
// https://support.huaweicloud.com/intl/en-us/api-smn/smn_api_64000.html)
// with their statuses there; those marked * are the emulator's choice,
// the table having none for the case.
const (
	codeSubject   = "SMN.0008" // 403 Parameter: Subject is invalid.
	codeMessage   = "SMN.0009" // 403 Parameter: Message is invalid.
	codeStructure = "SMN.0021" // 400 MessageStructure is invalid.
	codeTemplate  = "SMN.0027" // 404 Template not found.
	// codeAttribute: 400 "Parameter: Attribute name is invalid." is the
	// table's code for a topic attribute's name; used* for every message
	// attribute refusal.
	codeAttribute = "SMN.0046"
	// codeBadRequest*: malformed JSON, an unknown field, a wrong type,
	// time_to_live out of range.
	codeBadRequest = "SMN.0010"
)

// publishRequest is PublishMessage's body (PublishMessageRequestBody).
type publishRequest struct {
	Subject             *string           `json:"subject"`
	Message             *string           `json:"message"`
	MessageStructure    *string           `json:"message_structure"`
	MessageTemplateName *string           `json:"message_template_name"`
	Tags                map[string]string `json:"tags"`
	TimeToLive          *string           `json:"time_to_live"`
	MessageAttributes   []messageAttr     `json:"message_attributes"`
	Locale              *string           `json:"locale"`

	attributes []Attribute // filled by checkPublish
}

// messageAttr is one MessageAttribute; its value's shape depends on its
// type.
type messageAttr struct {
	Name  *string         `json:"name"`
	Type  *string         `json:"type"`
	Value json.RawMessage `json:"value"`
}

// decodePublish reads a PublishMessage body strictly: one JSON object, no
// unknown field, no wrong type, nothing after it.
func decodePublish(body []byte) (*publishRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req publishRequest
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return &req, nil
}

// protocols are the PROTOCOL attribute's values: the subscription
// protocols (AddSubscriptionRequestBody.protocol).
var protocols = []string{"email", "sms", "functionstage", "functiongraph", "http", "https",
	"callnotify", "wechat", "dingding", "feishu", "welink", "dingTalkBot"}

// checkPublish applies SMN's rules to a decoded body and fills
// req.attributes. It returns the refusal, or nil.
func checkPublish(req *publishRequest, maxAttrs int, reqID string) *reply {
	bad := func(status int, code, msg string) *reply {
		r := smnErr(status, code, msg, reqID)
		return &r
	}
	if req.Subject != nil {
		s := *req.Subject
		switch {
		case len(s) > MaxSubjectBytes:
			return bad(http.StatusForbidden, codeSubject, "Parameter: Subject is invalid. It exceeds "+strconv.Itoa(MaxSubjectBytes)+" bytes.")
		case !utf8.ValidString(s):
			return bad(http.StatusForbidden, codeSubject, "Parameter: Subject is invalid. It is not UTF-8.")
		case strings.ContainsAny(s, "\r\n"):
			// Inferred: SMN documents no rule on line breaks; a subject is
			// an e-mail subject (a header line), so the emulator refuses them.
			return bad(http.StatusForbidden, codeSubject, "Parameter: Subject is invalid. It contains a line break.")
		}
	}
	if req.TimeToLive != nil {
		n, err := strconv.Atoi(*req.TimeToLive)
		if err != nil || n <= 0 || n > MaxTimeToLive || strconv.Itoa(n) != *req.TimeToLive {
			return bad(http.StatusBadRequest, codeBadRequest, "Parameter: time_to_live is invalid.")
		}
	}
	// One of message, message_structure, message_template_name is required;
	// with several, message_structure > message_template_name > message.
	switch {
	case req.MessageStructure != nil:
		var m map[string]json.RawMessage
		var def string
		if json.Unmarshal([]byte(*req.MessageStructure), &m) != nil || m["default"] == nil ||
			json.Unmarshal(m["default"], &def) != nil || def == "" || len(*req.MessageStructure) > MaxMessageBytes {
			return bad(http.StatusBadRequest, codeStructure, "MessageStructure is invalid.")
		}
	case req.MessageTemplateName != nil:
		// The emulator serves no templates.
		return bad(http.StatusNotFound, codeTemplate, "Template not found.")
	case req.Message == nil:
		return bad(http.StatusForbidden, codeMessage, "Parameter: Message is invalid. One of message, message_structure and message_template_name is required.")
	default:
		m := *req.Message
		switch {
		case m == "":
			// "The message content cannot be left blank" (the console's
			// guide, "Publishing a Text Message").
			return bad(http.StatusForbidden, codeMessage, "Parameter: Message is invalid. It is empty.")
		case len(m) > MaxMessageBytes:
			return bad(http.StatusForbidden, codeMessage, "Parameter: Message is invalid. It exceeds 256 KB.")
		case !utf8.ValidString(m):
			return bad(http.StatusForbidden, codeMessage, "Parameter: Message is invalid. It is not UTF-8.")
		}
	}
	if len(req.MessageAttributes) > maxAttrs {
		return bad(http.StatusBadRequest, codeAttribute, fmt.Sprintf("Parameter: message_attributes is invalid. More than %d attributes.", maxAttrs))
	}
	for i, a := range req.MessageAttributes {
		attr, msg := checkAttribute(a)
		if msg != "" {
			return bad(http.StatusBadRequest, codeAttribute, fmt.Sprintf("Parameter: message_attributes[%d] is invalid. %s", i, msg))
		}
		// Inferred: the documentation says nothing of a name used twice;
		// filtering by name would be ambiguous, so the emulator refuses it.
		if slices.ContainsFunc(req.attributes, func(o Attribute) bool { return o.Name == attr.Name }) {
			return bad(http.StatusBadRequest, codeAttribute, fmt.Sprintf("Parameter: message_attributes[%d] is invalid. The name is used twice.", i))
		}
		req.attributes = append(req.attributes, attr)
	}
	return nil
}

// checkAttribute checks one MessageAttribute. It returns what is wrong,
// "" when fine.
func checkAttribute(a messageAttr) (Attribute, string) {
	if a.Name == nil || a.Type == nil || len(a.Value) == 0 || string(a.Value) == "null" {
		return Attribute{}, "name, type and value are required."
	}
	if !validName(*a.Name) {
		return Attribute{}, "The name must be 1 to 32 of a-z, 0-9 and _, with no _ first, last or twice in a row."
	}
	out := Attribute{Name: *a.Name, Type: *a.Type}
	switch *a.Type {
	case "STRING":
		var v string
		if json.Unmarshal(a.Value, &v) != nil || !validValue(v) {
			return Attribute{}, "A STRING value is 1 to 32 letters, Chinese characters, digits or _."
		}
		out.Values = []string{v}
	case "STRING_ARRAY":
		var vs []string
		if json.Unmarshal(a.Value, &vs) != nil || len(vs) < 1 || len(vs) > MaxAttributeValues {
			return Attribute{}, "A STRING_ARRAY value is an array of 1 to 10 strings."
		}
		for i, v := range vs {
			if !validValue(v) {
				return Attribute{}, "Each STRING_ARRAY value is 1 to 32 letters, Chinese characters, digits or _."
			}
			if slices.Contains(vs[:i], v) {
				return Attribute{}, "A STRING_ARRAY value repeats a string."
			}
		}
		out.Values = vs
	case "PROTOCOL":
		var vs []string
		if json.Unmarshal(a.Value, &vs) != nil || len(vs) < 1 {
			return Attribute{}, "A PROTOCOL value is an array of protocols."
		}
		for i, v := range vs {
			if !slices.Contains(protocols, v) || slices.Contains(vs[:i], v) {
				return Attribute{}, "A PROTOCOL value holds known protocols, each once."
			}
		}
		out.Values = vs
	default:
		return Attribute{}, "The type must be STRING, STRING_ARRAY or PROTOCOL."
	}
	return out, ""
}

// validName is MessageAttribute's name rule.
func validName(s string) bool {
	if len(s) < 1 || len(s) > MaxAttributeNameLen || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// validValue is the value rule: 1 to 32 characters, each an English
// letter, a Chinese character (Han), a digit or '_'.
func validValue(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || unicode.Is(unicode.Han, r)) {
			return false
		}
	}
	return n >= 1 && n <= MaxAttributeValueLen
}
