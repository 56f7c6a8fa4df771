// Package local starts the three strict local output services together
// (SMN, Cloud Eye, OBS), and opens the clients of the outputs on them
// through the official SDKs: for the demo, the emulator command, the
// bench and the tests.
package local

import (
	"errors"
	"fmt"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
)

// Defaults of the local services: a region, a project, a topic and a
// bucket.
const (
	Region  = "ap-southeast-1"
	Project = emulator.DefaultProject
	Topic   = "urn:smn:" + Region + ":" + Project + ":tagwarden-findings"
	Bucket  = "tagwarden-reports"
)

// Options choose what the services accept.
type Options struct {
	// Credentials the services verify (zero: the KMS emulator's default
	// pair).
	Credentials huaweikms.Credentials
	// Project of the topic and of the metrics (Project when empty).
	Project string
}

// Services are the three local services, listening on 127.0.0.1.
type Services struct {
	SMN *smnemu.Server
	CES *cesemu.Server
	OBS *obsemu.Server
	// URLs of each.
	SMNURL, CESURL, OBSURL string
	// Topic and Bucket served.
	Topic, Bucket, Project string
	creds                  huaweikms.Credentials
}

// Start starts the three services.
func Start(o Options) (*Services, error) {
	if o.Credentials.AccessKey == "" {
		o.Credentials = huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}
	}
	if o.Project == "" {
		o.Project = Project
	}
	s := &Services{Project: o.Project, Topic: "urn:smn:" + Region + ":" + o.Project + ":tagwarden-findings", Bucket: Bucket, creds: o.Credentials}
	c := o.Credentials
	var err error
	if s.SMN, err = smnemu.New(smnemu.Options{Topics: []string{s.Topic}, AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}); err != nil {
		return nil, err
	}
	if s.CES, err = cesemu.New(cesemu.Options{Projects: []string{o.Project}, AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}); err != nil {
		return nil, err
	}
	if s.OBS, err = obsemu.New(obsemu.Options{Buckets: []string{Bucket}, AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}); err != nil {
		return nil, err
	}
	if s.SMNURL, err = s.SMN.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if s.CESURL, err = s.CES.Listen("127.0.0.1:0"); err != nil {
		s.Close()
		return nil, err
	}
	if s.OBSURL, err = s.OBS.Listen("127.0.0.1:0"); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the services.
func (s *Services) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{s.SMN, s.CES, s.OBS} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Env returns the TAGWARDEN_* variables that point the function's outputs
// at the services (all three on).
func (s *Services) Env() map[string]string {
	return map[string]string{
		"TAGWARDEN_SMN_TOPIC":     s.Topic,
		"TAGWARDEN_SMN_ENDPOINT":  s.SMNURL,
		"TAGWARDEN_METRICS":       "true",
		"TAGWARDEN_CES_ENDPOINT":  s.CESURL,
		"TAGWARDEN_REPORT_BUCKET": s.Bucket,
		"TAGWARDEN_OBS_ENDPOINT":  s.OBSURL,
	}
}

// Clients opens the three outputs on the services with their credentials.
func (s *Services) Clients() (outputs.Clients, error) {
	creds := s.creds
	topic, err := huaweismn.ParseTopicURN(s.Topic)
	if err != nil {
		return outputs.Clients{}, err
	}
	n, err := huaweismn.New(huaweismn.Config{Topic: topic, Endpoint: s.SMNURL, Credentials: &creds})
	if err != nil {
		return outputs.Clients{}, fmt.Errorf("smn: %w", err)
	}
	m, err := huaweices.New(huaweices.Config{Namespace: huaweices.DefaultNamespace, Region: Region, ProjectID: s.Project,
		Endpoint: s.CESURL, Credentials: &creds})
	if err != nil {
		return outputs.Clients{}, fmt.Errorf("ces: %w", err)
	}
	st, err := huaweiobs.New(huaweiobs.Config{Bucket: s.Bucket, Region: Region, Endpoint: s.OBSURL, Credentials: &creds})
	if err != nil {
		return outputs.Clients{}, fmt.Errorf("obs: %w", err)
	}
	return outputs.Clients{Notifier: n, Metrics: m, Store: st}, nil
}
