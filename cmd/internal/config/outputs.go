package config

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
)

// The variables of the outputs (docs/configuration.md, "Outputs").
const (
	EnvSMNTopic         = "TAGWARDEN_SMN_TOPIC"         // the topic URN notifications go to
	EnvSMNEndpoint      = "TAGWARDEN_SMN_ENDPOINT"      // SMN endpoint override
	EnvNotifyChanges    = "TAGWARDEN_NOTIFY_CHANGES"    // notifications list the tags written too
	EnvNotifyRepeat     = "TAGWARDEN_NOTIFY_REPEAT"     // a notified finding is not repeated before this
	EnvMetrics          = "TAGWARDEN_METRICS"           // Cloud Eye custom metrics after each run
	EnvMetricsNamespace = "TAGWARDEN_METRICS_NAMESPACE" // their namespace (default TagWarden.KMS)
	EnvCESEndpoint      = "TAGWARDEN_CES_ENDPOINT"      // Cloud Eye endpoint override
	EnvReportBucket     = "TAGWARDEN_REPORT_BUCKET"     // the OBS bucket of stored reports
	EnvReportPrefix     = "TAGWARDEN_REPORT_PREFIX"     // their prefix (default tagwarden/)
	EnvOBSEndpoint      = "TAGWARDEN_OBS_ENDPOINT"      // OBS endpoint override
)

// Outputs is the configuration of the outputs: each is off when its
// variable is unset.
type Outputs struct {
	// Topic is the SMN topic of notifications (zero: none).
	Topic         huaweismn.TopicURN
	SMNEndpoint   string
	NotifyChanges bool
	NotifyRepeat  time.Duration
	// Metrics turns Cloud Eye metrics on, under Namespace.
	Metrics     bool
	Namespace   string
	CESEndpoint string
	// Bucket is the OBS bucket of stored reports ("": none), Prefix their
	// prefix.
	Bucket      string
	Prefix      string
	OBSEndpoint string
}

// DefaultOutputs returns the outputs' defaults: all off, a repeat of
// outputs.DefaultNotifyRepeat, the namespace huaweices.DefaultNamespace,
// the prefix outputs.DefaultPrefix.
func DefaultOutputs() Outputs {
	return Outputs{NotifyRepeat: outputs.DefaultNotifyRepeat, Namespace: huaweices.DefaultNamespace, Prefix: outputs.DefaultPrefix}
}

// On reports whether any output is configured.
func (o Outputs) On() bool { return !o.Topic.IsZero() || o.Metrics || o.Bucket != "" }

// outputs reads the outputs' variables.
func (r *reader) outputs(dst *Outputs) {
	if v := r.get(EnvSMNTopic); v != "" {
		t, err := huaweismn.ParseTopicURN(v)
		if err != nil {
			r.bad(EnvSMNTopic, v, "%v", err)
		}
		dst.Topic = t
	}
	dst.SMNEndpoint, _ = r.hostEndpointOf(EnvSMNEndpoint, "SMN")
	r.boolean(EnvNotifyChanges, &dst.NotifyChanges)
	r.duration(EnvNotifyRepeat, &dst.NotifyRepeat, time.Minute)
	r.boolean(EnvMetrics, &dst.Metrics)
	if v := r.get(EnvMetricsNamespace); v != "" {
		if err := huaweices.CheckNamespace(v); err != nil {
			r.bad(EnvMetricsNamespace, v, "%v", err)
		}
		dst.Namespace = v
	}
	dst.CESEndpoint, _ = r.hostEndpointOf(EnvCESEndpoint, "CES")
	if v := r.get(EnvReportBucket); v != "" {
		if err := huaweiobs.CheckBucket(v); err != nil {
			r.bad(EnvReportBucket, v, "%v", err)
		}
		dst.Bucket = v
	}
	if v := r.get(EnvReportPrefix); v != "" {
		if err := huaweiobs.CheckPrefix(v); err != nil {
			r.bad(EnvReportPrefix, v, "%v", err)
		}
		dst.Prefix = v
	}
	v, ok := r.hostEndpointOf(EnvOBSEndpoint, "OBS")
	if v != "" && ok {
		// What the OBS SDK cannot take besides (an IPv6 address).
		if _, err := huaweiobs.CheckEndpoint(v); err != nil {
			r.bad(EnvOBSEndpoint, endpoint.Shown(v), "%v", err) // never repeat a password or a query
		}
	}
	dst.OBSEndpoint = v
}

// hostEndpointOf reads the endpoint variable of an SDK that appends its
// own paths (SMN, Cloud Eye, OBS): scheme, host and optional port, no
// path (endpoint.CheckHost). ok is false when the value was refused.
func (r *reader) hostEndpointOf(name, service string) (v string, ok bool) {
	v = r.get(name)
	if v == "" {
		return "", true
	}
	if _, err := endpoint.CheckHost(service, v); err != nil {
		r.bad(name, endpoint.Shown(v), "%v", err) // never repeat a password or a query
		return v, false
	}
	return v, true
}

// Recorder returns the process's outputs recorder (nil when no output is
// configured): own names the function's own target.
func (p Process) Recorder(own string, log logrus.FieldLogger) *outputs.Recorder {
	if !p.Outputs.On() {
		return nil
	}
	return outputs.New(outputs.Options{Prefix: p.Outputs.Prefix, NotifyChanges: p.Outputs.NotifyChanges,
		NotifyRepeat: p.Outputs.NotifyRepeat, Own: own, Log: log})
}

// OutputClients opens the outputs with creds (nil: the SDK's credential
// chain, as for KMS); metrics go to the function's own region and
// project. It makes no network call. Its errors name the variables of the
// output that could not open.
func (p Process) OutputClients(creds *huaweikms.Credentials, project string) (outputs.Clients, error) {
	var c outputs.Clients
	o := p.Outputs
	if project == "" && (!o.Topic.IsZero() || o.Metrics || o.Bucket != "") {
		// The outputs name the function's own target by its project (the
		// stored objects' keys, the metrics' dimension): without it, two
		// projects' runs would share one state and one series.
		return c, fmt.Errorf("the outputs need the function's project: set %s (or %s)", EnvProjectID, EnvSDKProjectID)
	}
	if !o.Topic.IsZero() {
		n, err := huaweismn.New(huaweismn.Config{Topic: o.Topic, Endpoint: o.SMNEndpoint, Credentials: creds})
		if err != nil {
			return c, fmt.Errorf("notifications (%s, %s): %w", EnvSMNTopic, EnvSMNEndpoint, err)
		}
		c.Notifier = n
	}
	if o.Metrics {
		m, err := huaweices.New(huaweices.Config{Namespace: o.Namespace, Region: p.Region, ProjectID: project,
			Endpoint: o.CESEndpoint, Credentials: creds})
		if err != nil {
			return c, fmt.Errorf("metrics (%s: in %s, or at %s): %w", EnvMetrics, EnvRegion, EnvCESEndpoint, err)
		}
		c.Metrics = m
	}
	if o.Bucket != "" {
		s, err := huaweiobs.New(huaweiobs.Config{Bucket: o.Bucket, Region: p.Region, Endpoint: o.OBSEndpoint, Credentials: creds})
		if err != nil {
			return c, fmt.Errorf("stored reports (%s: in %s, or at %s): %w", EnvReportBucket, EnvRegion, EnvOBSEndpoint, err)
		}
		c.Store = s
	}
	return c, nil
}
