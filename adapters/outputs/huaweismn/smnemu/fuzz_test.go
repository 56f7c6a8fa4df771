package smnemu

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePublish: the body decoder and the rules never panic, and what
// they accept keeps the rules: a message or a structure, a subject within
// bounds and on one line, attributes with valid names and values.
func FuzzDecodePublish(f *testing.F) {
	for _, s := range []string{
		`{"subject":"s","message":"m"}`,
		`{"message":"m","message_attributes":[{"name":"owner","type":"STRING_ARRAY","value":["alice","bob"]}]}`,
		`{"message":"m","message_attributes":[{"name":"week","type":"STRING","value":"sunday"}]}`,
		`{"message_structure":"{\"default\":\"d\"}","time_to_live":"60"}`,
		`{"message":"m","message_attributes":[{"name":"smn_protocol","type":"PROTOCOL","value":["sms"]}]}`,
		`{"message":"m"} {}`,
		`{"message":1}`,
		`{"unknown":true}`,
		`{"message":"m","message_attributes":[{"name":"a","type":"STRING_ARRAY","value":null}]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodePublish(body)
		if err != nil {
			return
		}
		if rp := checkPublish(req, DefaultMaxAttributes, "r"); rp != nil {
			if rp.status < 400 {
				t.Fatalf("refusal with status %d", rp.status)
			}
			return
		}
		if req.Message == nil && req.MessageStructure == nil {
			t.Fatal("accepted without a message or a structure")
		}
		if s := deref(req.Subject); len(s) > MaxSubjectBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n") {
			t.Fatalf("accepted subject %q", s)
		}
		if len(req.attributes) > DefaultMaxAttributes {
			t.Fatalf("accepted %d attributes", len(req.attributes))
		}
		for _, a := range req.attributes {
			if !validName(a.Name) || len(a.Values) == 0 {
				t.Fatalf("accepted attribute %+v", a)
			}
			if a.Type != "PROTOCOL" {
				for _, v := range a.Values {
					if !validValue(v) {
						t.Fatalf("accepted value %q", v)
					}
				}
			}
		}
	})
}
