package handler

import (
	"bytes"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config)
	}{
		{name: "defaults", env: nil, want: func(*Config) {}},
		{
			name: "every variable",
			env: map[string]string{
				EnvPolicies: "/etc/tagwarden", EnvRegion: "ap-southeast-1", EnvEndpoint: "http://127.0.0.1:8080",
				EnvProjectID: "0b1f2e3d4c5b6a79887766554433221a", EnvDryRun: "true", EnvRateLimit: "5.5",
				EnvMargin: "3s", EnvConcurrency: "8", EnvLogLevel: "DEBUG", EnvLogFormat: "Text", EnvBatchSize: "5",
				EnvKeyRetries: "2", EnvKeyRetryDelay: "200ms", EnvKeyRetryMaxDel: "1s",
				EnvMaxReportBytes: "1000000", EnvMaxSnapshotAge: "2s", EnvContinuationTTL: "1h",
				EnvContinuationKey: "a-deployment-key-of-32-bytes-000",
			},
			want: func(c *Config) {
				c.MaxReportBytes, c.MaxSnapshotAge, c.ContinuationTTL = 1000000, 2*time.Second, time.Hour
				c.ContinuationKey = []byte("a-deployment-key-of-32-bytes-000")
				c.PoliciesDir, c.Region, c.Endpoint = "/etc/tagwarden", "ap-southeast-1", "http://127.0.0.1:8080"
				c.ProjectID, c.DryRun, c.RateLimit = "0b1f2e3d4c5b6a79887766554433221a", true, 5.5
				c.Margin, c.Concurrency, c.LogLevel, c.LogFormat, c.BatchSize = 3*time.Second, 8, "debug", "text", 5
				c.KeyRetries, c.KeyRetryDelay, c.KeyRetryMaxDelay = 2, 200*time.Millisecond, time.Second
			},
		},
		{name: "spaces trimmed", env: map[string]string{EnvDryRun: " 1 ", EnvConcurrency: " 2"}, want: func(c *Config) {
			c.DryRun, c.Concurrency = true, 2
		}},
		{name: "zero margin and retries", env: map[string]string{EnvMargin: "0s", EnvKeyRetries: "0"}, want: func(c *Config) {
			c.Margin, c.KeyRetries = 0, 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(envOf(tt.env))
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error, each naming variable and value
	}{
		{"rate not a number", map[string]string{EnvRateLimit: "fast"}, []string{`TAGWARDEN_RATE_LIMIT="fast": not a number`}},
		{"rate zero", map[string]string{EnvRateLimit: "0"}, []string{`TAGWARDEN_RATE_LIMIT="0"`}},
		{"rate NaN", map[string]string{EnvRateLimit: "NaN"}, []string{`TAGWARDEN_RATE_LIMIT="NaN": want requests per second`}},
		// A rate no sweep can live with: one request every 1000 seconds.
		{"rate too slow", map[string]string{EnvRateLimit: "0.001"}, []string{`TAGWARDEN_RATE_LIMIT="0.001": want requests per second from 1 to 1000`}},
		// Levels that would silence every decision and error.
		{"level fatal", map[string]string{EnvLogLevel: "fatal"}, []string{`TAGWARDEN_LOG_LEVEL="fatal": want trace, debug, info, warn or error`}},
		{"level panic", map[string]string{EnvLogLevel: "panic"}, []string{`TAGWARDEN_LOG_LEVEL="panic": want trace, debug, info, warn or error`}},
		{"report bytes over the platform limit", map[string]string{EnvMaxReportBytes: "7000000"}, []string{`TAGWARDEN_MAX_REPORT_BYTES="7000000": want 65536 to 6000000`}},
		{"snapshot age", map[string]string{EnvMaxSnapshotAge: "0s"}, []string{`TAGWARDEN_MAX_SNAPSHOT_AGE="0s": must be at least 1ms`}},
		{"short continuation key", map[string]string{EnvContinuationKey: "hunter2"}, []string{`TAGWARDEN_CONTINUATION_KEY: 7 bytes, want at least 32`}},
		{"dry run", map[string]string{EnvDryRun: "maybe"}, []string{`TAGWARDEN_DRY_RUN="maybe": want true or false`}},
		{"margin", map[string]string{EnvMargin: "10"}, []string{`TAGWARDEN_DEADLINE_MARGIN="10": not a duration`}},
		{"negative margin", map[string]string{EnvMargin: "-1s"}, []string{`TAGWARDEN_DEADLINE_MARGIN="-1s": must be at least 0s`}},
		{"concurrency", map[string]string{EnvConcurrency: "0"}, []string{`TAGWARDEN_CONCURRENCY="0": want 1 to 64`}},
		{"batch", map[string]string{EnvBatchSize: "ten"}, []string{`TAGWARDEN_BATCH_SIZE="ten": not a whole number`}},
		{"level", map[string]string{EnvLogLevel: "loud"}, []string{`TAGWARDEN_LOG_LEVEL="loud"`}},
		{"format", map[string]string{EnvLogFormat: "xml"}, []string{`TAGWARDEN_LOG_FORMAT="xml": want json or text`}},
		{"region", map[string]string{EnvRegion: "Asia Pacific"}, []string{`TAGWARDEN_REGION="Asia Pacific"`}},
		{"endpoint scheme", map[string]string{EnvEndpoint: "ftp://x"}, []string{`TAGWARDEN_KMS_ENDPOINT="ftp://x": want an http`}},
		{"endpoint host", map[string]string{EnvEndpoint: "http://"}, []string{`TAGWARDEN_KMS_ENDPOINT="http://": URL has no host`}},
		{"project", map[string]string{EnvProjectID: "a/b"}, []string{`TAGWARDEN_PROJECT_ID="a/b"`}},
		{"retry delays", map[string]string{EnvKeyRetryDelay: "2s", EnvKeyRetryMaxDel: "1s"}, []string{`TAGWARDEN_KEY_RETRY_MAX_DELAY="1s": must not be less than`}},
		{"all at once", map[string]string{EnvRateLimit: "x", EnvConcurrency: "-1", EnvLogFormat: "yaml"}, []string{
			"TAGWARDEN_RATE_LIMIT", "TAGWARDEN_CONCURRENCY", "TAGWARDEN_LOG_FORMAT",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(envOf(tt.env))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestConfigKeyNotRepeated: a bad continuation key, a secret, is reported
// by its length, never by its value.
func TestConfigKeyNotRepeated(t *testing.T) {
	_, err := ConfigFromEnv(envOf(map[string]string{EnvContinuationKey: "hunter2-secret"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v, want an error that does not show the key", err)
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		cfg       Config
		wantLevel logrus.Level
		wantJSON  bool
	}{
		{Config{}, logrus.InfoLevel, true},
		{Config{LogLevel: "debug", LogFormat: "json"}, logrus.DebugLevel, true},
		{Config{LogLevel: "warn", LogFormat: "text"}, logrus.WarnLevel, false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := newLogger(tt.cfg, &buf)
		if log.GetLevel() != tt.wantLevel {
			t.Errorf("%+v: level %s, want %s", tt.cfg, log.GetLevel(), tt.wantLevel)
		}
		log.Warn("hello")
		if got := strings.HasPrefix(buf.String(), "{"); got != tt.wantJSON {
			t.Errorf("%+v: JSON output %t, want %t: %s", tt.cfg, got, tt.wantJSON, buf.String())
		}
	}
}

func TestLoadEngine(t *testing.T) {
	if _, err := LoadEngine(Config{}); err != nil {
		t.Errorf("shipped policies: %v", err)
	}
	e, err := LoadEngine(Config{PoliciesDir: "testdata/policies", BatchSize: 3})
	if err != nil {
		t.Fatalf("test policies: %v", err)
	}
	if got := e.Limits().MaxBatch; got != 3 {
		t.Errorf("MaxBatch = %d, want the configured batch size 3", got)
	}
	_, err = LoadEngine(Config{PoliciesDir: "testdata/nope"})
	if err == nil || !strings.Contains(err.Error(), `TAGWARDEN_POLICIES="testdata/nope"`) {
		t.Errorf("missing folder: got %v, want an error naming the variable", err)
	}
}

func FuzzConfigFromEnv(f *testing.F) {
	f.Add("20", "10s", "4", "info", "json", "true", "http://127.0.0.1:1", "5")
	f.Add("-1", "x", "0", "LOUD", "xml", "maybe", "::", "1e9")
	f.Fuzz(func(t *testing.T, rate, margin, conc, level, format, dry, endpoint, batch string) {
		env := map[string]string{EnvRateLimit: rate, EnvMargin: margin, EnvConcurrency: conc, EnvLogLevel: level,
			EnvLogFormat: format, EnvDryRun: dry, EnvEndpoint: endpoint, EnvBatchSize: batch, EnvKeyRetryDelay: margin}
		cfg, err := ConfigFromEnv(envOf(env))
		if err != nil {
			if !strings.Contains(err.Error(), "TAGWARDEN_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		if !(cfg.RateLimit > 0) || cfg.Concurrency < 1 || cfg.Margin < 0 || cfg.KeyRetryMaxDelay < cfg.KeyRetryDelay {
			t.Fatalf("accepted an invalid configuration: %+v", cfg)
		}
	})
}

// TestConfigDocumented checks that the variables ConfigFromEnv reads are
// exactly the ones the configuration table of docs/configuration.md lists.
func TestConfigDocumented(t *testing.T) {
	var read []string
	if _, err := ConfigFromEnv(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	sort.Strings(read)
	doc, err := os.ReadFile("../docs/configuration.md")
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
