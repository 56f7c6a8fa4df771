package huaweismn

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tagwarden/tagwarden/adapters/outputs"
)

// SMN's limits on a published message, which Publish checks before
// sending. Sources: the API reference's "Publishing a Message"
// (PublishMessage,
// https://support.huaweicloud.com/intl/en-us/api-smn/PublishMessage.html)
// and the SDK's model of it (huaweicloud-sdk-go-v3
// services/smn/v2/model: PublishMessageRequestBody, MessageAttribute),
// whose comments are the same reference's Chinese text.
const (
	// MaxSubjectBytes bounds the subject: "The length of the subject
	// cannot exceed 512 bytes" (PublishMessage, subject; the SDK:
	// "长度不能超过512个字节"). The console's guide says "fewer than 512
	// bytes" ("Publishing a Text Message"); the API's "cannot exceed" is
	// what the API checks.
	MaxSubjectBytes = 512
	// MaxMessageBytes bounds the message: "a UTF-8 string of at most 256
	// KB" (PublishMessage, message; the SDK: "大小至多256KB"). No page
	// gives the figure in bytes; 256 KB is taken as 256 KiB, as Huawei
	// Cloud's other 256 KB limits are (FunctionGraph's asynchronous
	// payload, selfinvoke.FunctionGraphMaxAsyncPayload). A message between
	// 256,000 and 262,144 bytes may therefore be refused by the service
	// (403 SMN.0009, ErrInvalid): keep well below.
	MaxMessageBytes = 256 << 10
	// MaxAttributeNameLen bounds an attribute's name: "lower-case letters
	// [a-z], digits [0-9] and underscores; an underscore may not start or
	// end it, nor follow another; 1 to 32 characters" (MessageAttribute,
	// name).
	MaxAttributeNameLen = 32
	// MaxAttributeValues bounds the values of a STRING_ARRAY attribute:
	// "an array of 1 to 10 strings, none repeated" (MessageAttribute,
	// value).
	MaxAttributeValues = 10
	// MaxAttributeValueLen bounds one value, in characters: "each string
	// holds only Chinese or English letters, digits and underscores, 1 to
	// 32 characters" (MessageAttribute, value). A subscription's filter
	// policy (string_equals) has the same rule, so every value Publish
	// sends can be matched by one.
	MaxAttributeValueLen = 32
	// MaxAttributes bounds the attributes of one message. No Huawei page
	// found states a number (the PublishMessage reference types
	// message_attributes as an array with no length): 10 is this
	// package's own bound, twice what one subscription can filter on (a
	// subscription holds at most 5 filter policies, "Array Length: 1 - 5"
	// in BatchCreateSubscriptionsFilterPolices,
	// https://support.huaweicloud.com/intl/en-us/api-smn/BatchCreateSubscriptionsFilterPolices.html).
	MaxAttributes = 10
)

// reservedAttributePrefix starts the names SMN keeps for itself: a
// PROTOCOL attribute is named smn_protocol, and a filter policy's name
// "cannot start with smn_" (BatchCreateSubscriptionsFilterPolices), so an
// attribute named so could never be filtered on.
const reservedAttributePrefix = "smn_"

// attributeName is MessageAttribute's name rule.
var attributeName = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// validAttributeValue reports whether v is a STRING_ARRAY value SMN takes:
// 1 to 32 characters, each an English letter, a Chinese character (Han), a
// digit or '_'.
func validAttributeValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	n := 0
	for _, r := range v {
		n++
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || unicode.Is(unicode.Han, r)) {
			return false
		}
	}
	return n >= 1 && n <= MaxAttributeValueLen
}

// attribute is one attribute as it is sent.
type attribute struct {
	name   string
	values []string
}

// prepare checks m against SMN's rules and returns the attributes to send:
// those with values, each value once (the first time it appears), empty
// values dropped. Its error says what breaks which rule, without the
// values (they may name people).
func prepare(m outputs.Message) ([]attribute, error) {
	switch {
	case len(m.Subject) > MaxSubjectBytes:
		return nil, fmt.Errorf("the subject has %d bytes, more than SMN's %d", len(m.Subject), MaxSubjectBytes)
	case !utf8.ValidString(m.Subject):
		return nil, fmt.Errorf("the subject is not valid UTF-8")
	case strings.ContainsAny(m.Subject, "\r\n"):
		return nil, fmt.Errorf("the subject has a line break: it is one line")
	case m.Body == "":
		return nil, fmt.Errorf("the message is empty")
	case len(m.Body) > MaxMessageBytes:
		return nil, fmt.Errorf("the message has %d bytes, more than SMN's %d", len(m.Body), MaxMessageBytes)
	case !utf8.ValidString(m.Body):
		return nil, fmt.Errorf("the message is not valid UTF-8")
	}
	var out []attribute
	for i, a := range m.Attributes {
		var vals []string
		for _, v := range a.Values {
			if v != "" && !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		switch {
		case len(a.Name) > MaxAttributeNameLen || !attributeName.MatchString(a.Name):
			return nil, fmt.Errorf("attribute %d's name (%d bytes) breaks SMN's rule: 1 to %d lower-case letters, digits or '_', no '_' first, last or twice in a row", i, len(a.Name), MaxAttributeNameLen)
		case strings.HasPrefix(a.Name, reservedAttributePrefix):
			return nil, fmt.Errorf("attribute %q: names starting with %s are SMN's", a.Name, reservedAttributePrefix)
		case slices.ContainsFunc(out, func(o attribute) bool { return o.name == a.Name }):
			return nil, fmt.Errorf("attribute %q appears twice", a.Name)
		case len(vals) > MaxAttributeValues:
			return nil, fmt.Errorf("attribute %q has %d distinct values, more than SMN's %d", a.Name, len(vals), MaxAttributeValues)
		}
		for j, v := range vals {
			if !validAttributeValue(v) {
				return nil, fmt.Errorf("attribute %q: value %d breaks SMN's rule: 1 to %d letters, Chinese characters, digits or '_'", a.Name, j, MaxAttributeValueLen)
			}
		}
		out = append(out, attribute{name: a.Name, values: vals})
	}
	if len(out) > MaxAttributes {
		return nil, fmt.Errorf("%d attributes with values, more than %d", len(out), MaxAttributes)
	}
	return out, nil
}
