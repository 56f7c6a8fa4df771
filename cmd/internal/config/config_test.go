package config

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

// shipped is the folder of the shipped policies, from this package.
const shipped = "../../../policies"

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Process)
	}{
		{name: "defaults", env: nil, want: func(*Process) {}},
		{
			name: "every variable",
			env: map[string]string{
				EnvPolicies: "/etc/tagwarden", EnvRegion: "ap-southeast-1", EnvEndpoint: "http://127.0.0.1:8080",
				EnvProjectID: "0b1f2e3d4c5b6a79887766554433221a", EnvDryRun: "true", EnvRateLimit: "5.5",
				EnvMargin: "3s", EnvConcurrency: "8", EnvLogLevel: "DEBUG", EnvLogFormat: "Text", EnvBatchSize: "5",
				EnvKeyRetries: "2", EnvKeyRetryDelay: "200ms", EnvKeyRetryMaxDelay: "1s", EnvMaxReportKeys: "500",
				EnvMaxReportBytes: "1000000", EnvMaxSnapshotAge: "2s", EnvContinuationTTL: "1h",
				EnvContinuationKey: "a-deployment-key-of-32-bytes-000",
			},
			want: func(p *Process) {
				p.PoliciesDir, p.Region, p.Endpoint = "/etc/tagwarden", "ap-southeast-1", "http://127.0.0.1:8080"
				p.ProjectID, p.RateLimit, p.LogLevel, p.LogFormat = "0b1f2e3d4c5b6a79887766554433221a", 5.5, "debug", "text"
				h := &p.Handler
				h.MaxReportKeys, h.MaxReportBytes, h.MaxSnapshotAge, h.ContinuationTTL = 500, 1000000, 2*time.Second, time.Hour
				h.ContinuationKey = []byte("a-deployment-key-of-32-bytes-000")
				h.DryRun, h.Margin, h.Concurrency, h.BatchSize = true, 3*time.Second, 8, 5
				h.KeyRetries, h.KeyRetryDelay, h.KeyRetryMaxDelay = 2, 200*time.Millisecond, time.Second
			},
		},
		{name: "spaces trimmed", env: map[string]string{EnvDryRun: " 1 ", EnvConcurrency: " 2"}, want: func(p *Process) {
			p.Handler.DryRun, p.Handler.Concurrency = true, 2
		}},
		{name: "zero margin and retries", env: map[string]string{EnvMargin: "0s", EnvKeyRetries: "0"}, want: func(p *Process) {
			p.Handler.Margin, p.Handler.KeyRetries = 0, 0
		}},
		{name: "every output", env: map[string]string{
			EnvSMNTopic: "urn:smn:ap-southeast-1:0b1f2e3d4c5b6a79887766554433221a:kms-findings", EnvSMNEndpoint: "http://127.0.0.1:9001",
			EnvNotifyChanges: "true", EnvNotifyRepeat: "72h", EnvMetrics: "1", EnvMetricsNamespace: "Security.KMSTags",
			EnvCESEndpoint: "http://127.0.0.1:9002", EnvReportBucket: "audit-reports", EnvReportPrefix: "kms/tagwarden/",
			EnvOBSEndpoint: "http://127.0.0.1:9003",
		}, want: func(p *Process) {
			p.Outputs = Outputs{
				Topic:       huaweismn.TopicURN{Region: "ap-southeast-1", ProjectID: "0b1f2e3d4c5b6a79887766554433221a", Name: "kms-findings"},
				SMNEndpoint: "http://127.0.0.1:9001", NotifyChanges: true, NotifyRepeat: 72 * time.Hour,
				Metrics: true, Namespace: "Security.KMSTags", CESEndpoint: "http://127.0.0.1:9002",
				Bucket: "audit-reports", Prefix: "kms/tagwarden/", OBSEndpoint: "http://127.0.0.1:9003",
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromEnv(envOf(tt.env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(handler.Config{}, "OnKey")); diff != "" {
				t.Errorf("configuration (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefault: the defaults are the handler's and the KMS adapter's own,
// defined there once.
func TestDefault(t *testing.T) {
	p := Default()
	if p.RateLimit != huaweikms.DefaultRateLimit {
		t.Errorf("rate limit %v, want huaweikms.DefaultRateLimit (%v)", p.RateLimit, huaweikms.DefaultRateLimit)
	}
	if diff := cmp.Diff(handler.DefaultConfig(), p.Handler, cmpopts.IgnoreFields(handler.Config{}, "OnKey")); diff != "" {
		t.Errorf("handler options (-handler.DefaultConfig +got):\n%s", diff)
	}
	if p.LogLevel != "info" || p.LogFormat != "json" || p.PoliciesDir != "" {
		t.Errorf("got log %s/%s, policies %q; want info/json and the shipped policies", p.LogLevel, p.LogFormat, p.PoliciesDir)
	}
}

func TestFromEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error, each naming variable and value
	}{
		{"rate not a number", map[string]string{EnvRateLimit: "fast"}, []string{`TAGWARDEN_RATE_LIMIT="fast": not a number`}},
		{"topic not a URN", map[string]string{EnvSMNTopic: "arn:aws:sns:us-east-1:1:t"}, []string{`TAGWARDEN_SMN_TOPIC="arn:aws:sns:us-east-1:1:t"`}},
		{"topic of no project", map[string]string{EnvSMNTopic: "urn:smn:ap-southeast-1::t"}, []string{`TAGWARDEN_SMN_TOPIC=`}},
		{"namespace of the system", map[string]string{EnvMetricsNamespace: "SYS.KMS"}, []string{`TAGWARDEN_METRICS_NAMESPACE="SYS.KMS"`}},
		{"namespace without an item", map[string]string{EnvMetricsNamespace: "TagWarden"}, []string{`TAGWARDEN_METRICS_NAMESPACE="TagWarden"`}},
		{"bucket with capitals", map[string]string{EnvReportBucket: "Audit_Reports"}, []string{`TAGWARDEN_REPORT_BUCKET="Audit_Reports"`}},
		{"bucket an IP address", map[string]string{EnvReportBucket: "192.168.1.1"}, []string{`TAGWARDEN_REPORT_BUCKET="192.168.1.1"`}},
		{"prefix from the root", map[string]string{EnvReportPrefix: "/reports"}, []string{`TAGWARDEN_REPORT_PREFIX="/reports"`}},
		{"repeat not a duration", map[string]string{EnvNotifyRepeat: "7d"}, []string{`TAGWARDEN_NOTIFY_REPEAT="7d"`}},
		{"metrics not a boolean", map[string]string{EnvMetrics: "yes please"}, []string{`TAGWARDEN_METRICS="yes please"`}},
		{"OBS endpoint with a password", map[string]string{EnvOBSEndpoint: "http://user:hunter2@127.0.0.1:9000"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://xxxxx@127.0.0.1:9000": the OBS endpoint holds a user name or password`}},
		// The SDKs of the outputs append their own paths: an endpoint's path
		// would send every request where nobody meant.
		{"SMN endpoint with a path", map[string]string{EnvSMNEndpoint: "http://127.0.0.1:9001/v2"}, []string{`TAGWARDEN_SMN_ENDPOINT="http://127.0.0.1:9001/v2": the SMN endpoint has a path: give the scheme, host and port only`}},
		{"CES endpoint with a path", map[string]string{EnvCESEndpoint: "https://ces.example/prefix/"}, []string{`TAGWARDEN_CES_ENDPOINT="https://ces.example/prefix/": the CES endpoint has a path`}},
		{"OBS endpoint with a path", map[string]string{EnvOBSEndpoint: "http://127.0.0.1:9003/obs"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://127.0.0.1:9003/obs": the OBS endpoint has a path`}},
		{"OBS endpoint with a path and a password", map[string]string{EnvOBSEndpoint: "http://u:hunter2@h/obs"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://xxxxx@h/obs": the OBS endpoint holds a user name or password`}},
		{"OBS endpoint with a query", map[string]string{EnvOBSEndpoint: "http://h?sig=hunter2"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://h...": the OBS endpoint has a query or fragment`}},
		{"OBS endpoint of an IPv6 address", map[string]string{EnvOBSEndpoint: "http://[::1]:9003"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://[::1]:9003": the OBS endpoint http://[::1]:9003 has an IPv6 address`}},
		{"CES endpoint port 0", map[string]string{EnvCESEndpoint: "http://127.0.0.1:0"}, []string{`TAGWARDEN_CES_ENDPOINT="http://127.0.0.1:0": the CES endpoint's port is "0": want a number from 1 to 65535`}},
		{"SMN endpoint empty port", map[string]string{EnvSMNEndpoint: "http://127.0.0.1:"}, []string{`TAGWARDEN_SMN_ENDPOINT="http://127.0.0.1:": the SMN endpoint's port is empty`}},
		{"OBS endpoint port too large", map[string]string{EnvOBSEndpoint: "http://127.0.0.1:65536"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://127.0.0.1:65536": the OBS endpoint's port is "65536"`}},
		{"OBS endpoint port not a number", map[string]string{EnvOBSEndpoint: "http://127.0.0.1:hunter2"}, []string{`TAGWARDEN_OBS_ENDPOINT="http://127.0.0.1:xxxxx": the OBS endpoint's port is not a number`}},
		{"KMS endpoint port too large", map[string]string{EnvEndpoint: "http://127.0.0.1:70000"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://127.0.0.1:70000": the KMS endpoint's port is "70000"`}},
		{"topic of a subscription", map[string]string{EnvSMNTopic: "urn:smn:ap-southeast-1:p1:t:sub"}, []string{`TAGWARDEN_SMN_TOPIC="urn:smn:ap-southeast-1:p1:t:sub": topic URN has 6 colon-separated parts, want 5`}},
		{"notify changes not a boolean", map[string]string{EnvNotifyChanges: "sometimes"}, []string{`TAGWARDEN_NOTIFY_CHANGES="sometimes": want true or false`}},
		{"repeat too short", map[string]string{EnvNotifyRepeat: "30s"}, []string{`TAGWARDEN_NOTIFY_REPEAT="30s": must be at least 1m0s`}},
		{"prefix with a dot-dot segment", map[string]string{EnvReportPrefix: "a/../b/"}, []string{`TAGWARDEN_REPORT_PREFIX="a/../b/"`, `".."`}},
		{"rate zero", map[string]string{EnvRateLimit: "0"}, []string{`TAGWARDEN_RATE_LIMIT="0"`}},
		{"rate NaN", map[string]string{EnvRateLimit: "NaN"}, []string{`TAGWARDEN_RATE_LIMIT="NaN": want requests per second`}},
		// A rate no sweep can live with: one request every 1000 seconds.
		{"rate too slow", map[string]string{EnvRateLimit: "0.001"}, []string{`TAGWARDEN_RATE_LIMIT="0.001": want requests per second from 1 to 1000`}},
		{"rate too fast", map[string]string{EnvRateLimit: "1001"}, []string{`TAGWARDEN_RATE_LIMIT="1001": want requests per second from 1 to 1000`}},
		// Levels that would silence every decision and error.
		{"level fatal", map[string]string{EnvLogLevel: "fatal"}, []string{`TAGWARDEN_LOG_LEVEL="fatal": want trace, debug, info, warn or error`}},
		{"level panic", map[string]string{EnvLogLevel: "panic"}, []string{`TAGWARDEN_LOG_LEVEL="panic": want trace, debug, info, warn or error`}},
		{"report bytes over the platform limit", map[string]string{EnvMaxReportBytes: "7000000"}, []string{`TAGWARDEN_MAX_REPORT_BYTES="7000000": want 65536 to 6000000`}},
		{"report keys", map[string]string{EnvMaxReportKeys: "9"}, []string{`TAGWARDEN_MAX_REPORT_KEYS="9": want 10 to 1000000`}},
		{"snapshot age", map[string]string{EnvMaxSnapshotAge: "0s"}, []string{`TAGWARDEN_MAX_SNAPSHOT_AGE="0s": must be at least 1ms`}},
		{"continuation ttl", map[string]string{EnvContinuationTTL: "30s"}, []string{`TAGWARDEN_CONTINUATION_TTL="30s": must be at least 1m0s`}},
		{"short continuation key", map[string]string{EnvContinuationKey: "hunter2"}, []string{`TAGWARDEN_CONTINUATION_KEY: 7 bytes, want at least 32`}},
		{"dry run", map[string]string{EnvDryRun: "maybe"}, []string{`TAGWARDEN_DRY_RUN="maybe": want true or false`}},
		{"margin", map[string]string{EnvMargin: "10"}, []string{`TAGWARDEN_DEADLINE_MARGIN="10": not a duration`}},
		{"negative margin", map[string]string{EnvMargin: "-1s"}, []string{`TAGWARDEN_DEADLINE_MARGIN="-1s": must be at least 0s`}},
		{"concurrency", map[string]string{EnvConcurrency: "0"}, []string{`TAGWARDEN_CONCURRENCY="0": want 1 to 64`}},
		{"batch", map[string]string{EnvBatchSize: "ten"}, []string{`TAGWARDEN_BATCH_SIZE="ten": not a whole number`}},
		{"key retries", map[string]string{EnvKeyRetries: "21"}, []string{`TAGWARDEN_KEY_RETRIES="21": want 0 to 20`}},
		{"level", map[string]string{EnvLogLevel: "loud"}, []string{`TAGWARDEN_LOG_LEVEL="loud"`}},
		{"format", map[string]string{EnvLogFormat: "xml"}, []string{`TAGWARDEN_LOG_FORMAT="xml": want json or text`}},
		{"region", map[string]string{EnvRegion: "Asia Pacific"}, []string{`TAGWARDEN_REGION="Asia Pacific"`}},
		{"endpoint scheme", map[string]string{EnvEndpoint: "ftp://x"}, []string{`TAGWARDEN_KMS_ENDPOINT="ftp://x": the KMS endpoint's scheme is "ftp": want http or https`}},
		{"endpoint host", map[string]string{EnvEndpoint: "http://"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://": the KMS endpoint has no host`}},
		{"endpoint query, not repeated", map[string]string{EnvEndpoint: "http://127.0.0.1:8080?token=hunter2"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://127.0.0.1:8080...": the KMS endpoint has a query or fragment`}},
		{"endpoint password, not repeated", map[string]string{EnvEndpoint: "http://u:hunter2@127.0.0.1:8080"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://xxxxx@127.0.0.1:8080": the KMS endpoint holds a user name or password`}},
		{"endpoint password in a URL that does not parse", map[string]string{EnvEndpoint: "http://u:hunter2@127.0.0.1:1/%zz"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://xxxxx@127.0.0.1:1/%zz": the KMS endpoint is not a URL`}},
		{"endpoint password in another scheme", map[string]string{EnvEndpoint: "ftp://u:hunter2@h"}, []string{`TAGWARDEN_KMS_ENDPOINT="ftp://xxxxx@h": the KMS endpoint's scheme is "ftp"`}},
		{"project", map[string]string{EnvProjectID: "a/b"}, []string{`TAGWARDEN_PROJECT_ID="a/b"`}},
		{"retry delays", map[string]string{EnvKeyRetryDelay: "2s", EnvKeyRetryMaxDelay: "1s"}, []string{`TAGWARDEN_KEY_RETRY_MAX_DELAY="1s": must not be less than`}},
		{"targets none valid", map[string]string{EnvTargets: "ap-southeast-1,cn-north-4/"}, []string{"TAGWARDEN_TARGETS: target list", `entry 1 "ap-southeast-1"`, `entry 2 "cn-north-4/"`}},
		{"target filter without auto", map[string]string{EnvTargetRegions: "cn-.*"}, []string{`TAGWARDEN_TARGET_REGIONS="cn-.*": filters the projects of TAGWARDEN_TARGETS=auto`}},
		{"target filter bad", map[string]string{EnvTargets: "auto", EnvTargetProjects: "(a"}, []string{`TAGWARDEN_TARGET_PROJECTS="(a"`}},
		{"kms endpoints", map[string]string{EnvKMSEndpoints: "cn-north-4=ftp://x"}, []string{"TAGWARDEN_KMS_ENDPOINTS"}},
		{"target endpoint password, not repeated", map[string]string{EnvTargets: "cn-north-4/p=http://u:hunter2@h"}, []string{"TAGWARDEN_TARGETS"}},
		{"max chain", map[string]string{EnvMaxChain: "-1"}, []string{`TAGWARDEN_MAX_CHAIN="-1": want 0 to 10000`}},
		{"function urn", map[string]string{EnvFunctionURN: "urn:fss:x"}, []string{`TAGWARDEN_FUNCTION_URN="urn:fss:x"`}},
		{"functiongraph endpoint", map[string]string{EnvFunctionGraphEndpoint: "gopher://x"}, []string{`TAGWARDEN_FUNCTIONGRAPH_ENDPOINT="gopher://x"`}},
		{"iam endpoint", map[string]string{EnvIAMEndpoint: "http://"}, []string{`TAGWARDEN_IAM_ENDPOINT="http://"`}},
		{"all at once", map[string]string{EnvRateLimit: "x", EnvConcurrency: "-1", EnvLogFormat: "yaml"}, []string{
			"TAGWARDEN_RATE_LIMIT", "TAGWARDEN_CONCURRENCY", "TAGWARDEN_LOG_FORMAT",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromEnv(envOf(tt.env))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q repeats a secret", err)
			}
		})
	}
}

// TestTargets: the target list, auto with its filters, endpoints by
// region; an entry that does not parse is set aside, named, and the others
// kept.
func TestTargets(t *testing.T) {
	p, err := FromEnv(envOf(map[string]string{
		EnvTargets:      "ap-southeast-1/p1, cn-north-4/p2=http://127.0.0.1:9000, nowhere/p3",
		EnvKMSEndpoints: "ap-southeast-1=http://127.0.0.1:9001",
		EnvMaxChain:     "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range p.Targets.Static {
		names = append(names, tg.Name()+"="+tg.Endpoint)
	}
	if got := strings.Join(names, ","); got != "ap-southeast-1/p1=,cn-north-4/p2=http://127.0.0.1:9000" {
		t.Errorf("targets %s", got)
	}
	if len(p.BadTargets) != 1 || !strings.Contains(p.BadTargets[0], "TAGWARDEN_TARGETS") || !strings.Contains(p.BadTargets[0], "nowhere/p3") {
		t.Errorf("bad targets %q, want the one entry named", p.BadTargets)
	}
	if p.Targets.Endpoints["ap-southeast-1"] != "http://127.0.0.1:9001" || p.MaxChain != 0 {
		t.Errorf("endpoints %v, max chain %d", p.Targets.Endpoints, p.MaxChain)
	}
	p, err = FromEnv(envOf(map[string]string{EnvTargets: "AUTO", EnvTargetRegions: "cn-.*", EnvTargetProjects: "prod.*"}))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Targets.Auto || !p.Targets.Regions.MatchString("cn-north-4") || p.Targets.Regions.MatchString("xcn-north-4") || p.Targets.Projects == nil {
		t.Errorf("auto %t regions %v projects %v", p.Targets.Auto, p.Targets.Regions, p.Targets.Projects)
	}
	if d := Default(); d.MaxChain != DefaultMaxChain {
		t.Errorf("default max chain %d", d.MaxChain)
	}
}

// TestContinuationKeyNotRepeated: a bad continuation key, a secret, is
// reported by its length, never by its value.
func TestContinuationKeyNotRepeated(t *testing.T) {
	_, err := FromEnv(envOf(map[string]string{EnvContinuationKey: "hunter2-secret"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v, want an error that does not show the key", err)
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name      string
		p         Process
		wantLevel logrus.Level
		wantJSON  bool
	}{
		{"unset", Process{}, logrus.InfoLevel, true},
		{"debug json", Process{LogLevel: "debug", LogFormat: "json"}, logrus.DebugLevel, true},
		{"warn text", Process{LogLevel: "warn", LogFormat: "text"}, logrus.WarnLevel, false},
		{"unknown level", Process{LogLevel: "loud"}, logrus.InfoLevel, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(tt.p, &buf)
			if log.GetLevel() != tt.wantLevel {
				t.Errorf("level %s, want %s", log.GetLevel(), tt.wantLevel)
			}
			log.Warn("hello")
			if got := strings.HasPrefix(buf.String(), "{"); got != tt.wantJSON {
				t.Errorf("JSON output %t, want %t: %s", got, tt.wantJSON, buf.String())
			}
		})
	}
}

func TestLoadEngine(t *testing.T) {
	tests := []struct {
		name      string
		p         Process
		wantBatch int
		wantErr   string
	}{
		{"shipped policies", Process{}, policy.DefaultLimits().MaxBatch, ""},
		{"a folder, with a batch size", Process{PoliciesDir: shipped, Handler: handler.Config{BatchSize: 3}}, 3, ""},
		{"missing folder", Process{PoliciesDir: "testdata/nope"}, 0, `TAGWARDEN_POLICIES="testdata/nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := LoadEngine(tt.p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Limits().MaxBatch; got != tt.wantBatch {
				t.Errorf("MaxBatch = %d, want %d", got, tt.wantBatch)
			}
		})
	}
}

func TestKMS(t *testing.T) {
	p := Default()
	p.Region, p.Endpoint, p.ProjectID, p.RateLimit = "ap-southeast-1", "http://127.0.0.1:8080", "0b1f2e3d4c5b6a79887766554433221a", 7.5
	p.Handler.BatchSize = 4
	engine, err := LoadEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	got := p.KMS(engine, log)
	if got.Region != p.Region || got.Endpoint != p.Endpoint || got.ProjectID != p.ProjectID || got.Log != log || got.Credentials != nil {
		t.Errorf("got %+v, want the region, endpoint, project and logger of the configuration, and the SDK's credential chain", got)
	}
	if got.Pacer == nil || got.Pacer.Rate() != 7.5 || got.RateLimit != 0 {
		t.Errorf("got pacer %v (rate limit %v), want one pacer at 7.5 requests per second", got.Pacer, got.RateLimit)
	}
	if diff := cmp.Diff(engine.Limits(), got.Limits); diff != "" || got.Limits.MaxBatch != 4 {
		t.Errorf("limits (-engine +store):\n%s, want the engine's (MaxBatch 4)", diff)
	}
}

func FuzzFromEnv(f *testing.F) {
	f.Add("20", "10s", "4", "info", "json", "true", "http://127.0.0.1:1", "5")
	f.Add("-1", "x", "0", "LOUD", "xml", "maybe", "::", "1e9")
	f.Fuzz(func(t *testing.T, rate, margin, conc, level, format, dry, endpoint, batch string) {
		env := map[string]string{EnvRateLimit: rate, EnvMargin: margin, EnvConcurrency: conc, EnvLogLevel: level,
			EnvLogFormat: format, EnvDryRun: dry, EnvEndpoint: endpoint, EnvBatchSize: batch, EnvKeyRetryDelay: margin}
		p, err := FromEnv(envOf(env))
		if err != nil {
			if !strings.Contains(err.Error(), "TAGWARDEN_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		h := p.Handler
		if !(p.RateLimit > 0) || h.Concurrency < 1 || h.Margin < 0 || h.KeyRetryMaxDelay < h.KeyRetryDelay {
			t.Fatalf("accepted an invalid configuration: %+v", p)
		}
	})
}

// TestConfigDocumented checks that the variables FromEnv reads are exactly
// the ones the configuration table of docs/configuration.md lists.
func TestConfigDocumented(t *testing.T) {
	var read []string
	if _, err := FromEnv(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	sort.Strings(read)
	doc, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(TAGWARDEN_[A-Z_]+)` \\|").FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	sort.Strings(documented)
	if diff := cmp.Diff(read, documented); diff != "" {
		t.Errorf("variables read (-) and documented in docs/configuration.md (+):\n%s", diff)
	}
}

// TestHandlerNamesTheVariables: where the handler's answers tell an
// operator which setting to change, they name the variable this package
// reads for it.
func TestHandlerNamesTheVariables(t *testing.T) {
	engine, err := LoadEngine(Default())
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	for i := range 30 { // no owner: each needs a change under the shipped policies
		store.Put(policy.Key{ID: fmt.Sprintf("30000000-0000-4000-8000-%012d", i), Alias: fmt.Sprintf("app-%d", i),
			State: policy.StateEnabled, Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, nil)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	newHandler := func(key string) *handler.Handler {
		cfg := handler.DefaultConfig()
		cfg.MaxReportKeys, cfg.Concurrency, cfg.ContinuationKey = 10, 1, []byte(key)
		return handler.New(engine, cfg, quiet)
	}
	dry := true
	sweep := handler.Request{Mode: handler.ModeSweep, DryRun: &dry}
	full := newHandler(strings.Repeat("a", 32)).Handle(context.Background(), store, sweep)
	if full.Continuation == "" {
		t.Fatalf("got %+v, want a report cut short by its size, with a continuation", full)
	}
	resumed := sweep
	resumed.Continuation = full.Continuation
	foreign := newHandler(strings.Repeat("b", 32)).Handle(context.Background(), store, resumed)
	short, cancel := context.WithTimeout(context.Background(), time.Second) // under the 10s margin
	defer cancel()
	noTime := newHandler(strings.Repeat("a", 32)).Handle(short, store, sweep)

	tests := []struct {
		name string
		got  string
		want []string
	}{
		{"report full", full.Reason, []string{EnvMaxReportBytes, EnvMaxReportKeys}},
		{"continuation of another key", foreign.Error, []string{EnvContinuationKey}},
		{"no time before the margin", noTime.Error, []string{EnvMargin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(tt.got, w) {
					t.Errorf("%q does not name %s", tt.got, w)
				}
			}
		})
	}
}

// TestOutputClientsNameTheVariables: an output that cannot open says which
// variables configure it, and never repeats the credentials.
func TestOutputClientsNameTheVariables(t *testing.T) {
	creds := &huaweikms.Credentials{AccessKey: "AKOUTPUTS00000000001", SecretKey: "hunter2-outputs-secret-key-000000000000"}
	tests := []struct {
		name    string
		p       Process
		project string   // "p1" when empty; "-" for none
		want    []string // substrings of the error; none: the clients open
	}{
		{"no project", Process{Region: "ap-southeast-1", Outputs: Outputs{Bucket: "audit-reports"}}, "-",
			[]string{"the outputs need the function's project: set TAGWARDEN_PROJECT_ID (or HUAWEICLOUD_SDK_PROJECT_ID)"}},
		{"no project, no output", Process{Region: "ap-southeast-1"}, "-", nil},
		{"every output, in a region", Process{Region: "ap-southeast-1", Outputs: Outputs{
			Topic: huaweismn.TopicURN{Region: "ap-southeast-1", ProjectID: "p1", Name: "t"}, Metrics: true,
			Namespace: "TagWarden.KMS", Bucket: "audit-reports"}}, "", nil},
		{"metrics without a region or an endpoint", Process{Outputs: Outputs{Metrics: true, Namespace: "TagWarden.KMS"}}, "",
			[]string{"metrics (TAGWARDEN_METRICS: in TAGWARDEN_REGION, or at TAGWARDEN_CES_ENDPOINT)", "no CES endpoint"}},
		{"reports without a region or an endpoint", Process{Outputs: Outputs{Bucket: "audit-reports"}}, "",
			[]string{"stored reports (TAGWARDEN_REPORT_BUCKET: in TAGWARDEN_REGION, or at TAGWARDEN_OBS_ENDPOINT)"}},
		{"reports at an endpoint of IPv6", Process{Outputs: Outputs{Bucket: "audit-reports", OBSEndpoint: "http://[::1]:9000"}}, "",
			[]string{"stored reports (TAGWARDEN_REPORT_BUCKET", "IPv6"}},
		{"notifications to a topic of no project", Process{Region: "ap-southeast-1", Outputs: Outputs{
			Topic: huaweismn.TopicURN{Region: "ap-southeast-1", Name: "t"}}}, "",
			[]string{"notifications (TAGWARDEN_SMN_TOPIC, TAGWARDEN_SMN_ENDPOINT)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := tt.project
			switch project {
			case "":
				project = "p1"
			case "-":
				project = ""
			}
			_, err := tt.p.OutputClients(creds, project)
			switch {
			case len(tt.want) == 0 && err != nil:
				t.Fatalf("got %v, want the clients", err)
			case len(tt.want) > 0 && err == nil:
				t.Fatalf("got the clients, want an error naming %q", tt.want)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("the error %q repeats the secret key", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
