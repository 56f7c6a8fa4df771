package huaweismn

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// TopicURN names an SMN topic: urn:smn:{region}:{project_id}:{topic_name}.
type TopicURN struct {
	// Region is the region id, e.g. ap-southeast-1.
	Region string
	// ProjectID is the id of the project that owns the topic (32
	// hexadecimal digits on Huawei Cloud).
	ProjectID string
	// Name is the topic's name.
	Name string
}

// The parts of a topic URN.
//
// The topic name is SMN's rule for CreateTopic (API reference, "Creating a
// Topic", https://support.huaweicloud.com/intl/en-us/api-smn/CreateTopic.html,
// and the SDK model CreateTopicRequestBody.Name): "only upper-case letters,
// lower-case letters, digits, - and _; it must start with a letter or a
// digit; 1 to 255 characters". The region and the project id are generous
// bounds on the ids Huawei Cloud uses (ap-southeast-1, cn-north-4,
// eu-west-101; 32 hexadecimal digits), not documented rules.
var (
	urnRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)*-[0-9]+$`)
	urnProject = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)
	urnName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)
)

// maxRegionLen bounds a region id (the longest in the SDK's list,
// my-kualalumpur-1, has 16 characters).
const maxRegionLen = 32

// String is the URN's text, as SMN writes it.
func (t TopicURN) String() string {
	return "urn:smn:" + t.Region + ":" + t.ProjectID + ":" + t.Name
}

// IsZero reports whether t names nothing.
func (t TopicURN) IsZero() bool { return t == TopicURN{} }

// ParseTopicURN parses a topic URN, urn:smn:{region}:{project_id}:{topic_name}.
// Its errors say which part is wrong and why, never quoting the text (a
// URN pasted in the wrong variable may be a secret).
func ParseTopicURN(s string) (TopicURN, error) {
	if strings.TrimSpace(s) == "" {
		return TopicURN{}, errors.New("topic URN is empty: want urn:smn:{region}:{project_id}:{topic_name}")
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 6 && parts[0] == "urn" && parts[1] == "smn":
		return TopicURN{}, errors.New("topic URN has 6 colon-separated parts, want 5: this looks like a subscription URN (urn:smn:{region}:{project_id}:{topic_name}:{subscription_id}); give the topic's")
	case len(parts) != 5:
		return TopicURN{}, fmt.Errorf("topic URN has %d colon-separated parts, want 5: urn:smn:{region}:{project_id}:{topic_name}", len(parts))
	case parts[0] != "urn" || parts[1] != "smn":
		return TopicURN{}, errors.New("topic URN does not start with urn:smn:")
	}
	t := TopicURN{Region: parts[2], ProjectID: parts[3], Name: parts[4]}
	return t, t.validate()
}

// validate checks every part of t.
func (t TopicURN) validate() error {
	switch {
	case t.Region == "":
		return errors.New("topic URN has no region")
	case len(t.Region) > maxRegionLen || !urnRegion.MatchString(t.Region):
		return fmt.Errorf("topic URN's region (%d characters) is not a region id such as ap-southeast-1: lower-case letters, digits and '-', ending in a number", len(t.Region))
	case t.ProjectID == "":
		return errors.New("topic URN has no project id")
	case !urnProject.MatchString(t.ProjectID):
		return fmt.Errorf("topic URN's project id (%d characters) is not a project id: 1 to 64 letters, digits or '-' (32 hexadecimal digits on Huawei Cloud)", len(t.ProjectID))
	case t.Name == "":
		return errors.New("topic URN has no topic name")
	case !urnName.MatchString(t.Name):
		return fmt.Errorf("topic URN's topic name (%d characters) breaks SMN's rule: 1 to 255 letters, digits, '-' or '_', starting with a letter or a digit", len(t.Name))
	}
	return nil
}
