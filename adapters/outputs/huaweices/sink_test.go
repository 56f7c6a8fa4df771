package huaweices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
)

// start serves a cesemu with opts on loopback.
func start(t *testing.T, opts cesemu.Options) (*cesemu.Server, string) {
	t.Helper()
	srv, err := cesemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, url
}

// newSink builds a sink for url with the emulator's default credentials,
// then applies mod.
func newSink(t *testing.T, url string, mod func(*Config)) *Sink {
	t.Helper()
	cfg := Config{Endpoint: url, ProjectID: cesemu.DefaultProject,
		Credentials: &huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func datum(metric string, v float64, at time.Time, dims ...string) outputs.Datum {
	d := outputs.Datum{Metric: metric, Value: v, Unit: "count", At: at}
	for i := 0; i+1 < len(dims); i += 2 {
		d.Dimensions = append(d.Dimensions, outputs.Dimension{Name: dims[i], Value: dims[i+1]})
	}
	return d
}

// asError returns err as *outputs.Error, failing the test otherwise.
func asError(t *testing.T, err error) *outputs.Error {
	t.Helper()
	var oe *outputs.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not *outputs.Error", err, err)
	}
	if oe.Service != "ces" || oe.Op != "put_metric_data" {
		t.Errorf("error %v: service %q op %q, want ces put_metric_data", err, oe.Service, oe.Op)
	}
	return oe
}

func TestPutStoresPoints(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	s := newSink(t, url, func(c *Config) { c.TTL = 3600 })
	if s.Where() != DefaultNamespace {
		t.Errorf("Where() = %q, want %q", s.Where(), DefaultNamespace)
	}
	now := time.Now()
	at := now.Add(-time.Minute).Truncate(time.Millisecond)
	in := []outputs.Datum{
		datum("keys_checked", 120, at, "target", SafeDimensionValue("ap-southeast-1/p1")),
		datum("violations", 3, at, "target", "ap-southeast-1", "policy", SafeDimensionValue("cost center")),
		{Metric: "duration_seconds", Value: 12.5, Unit: "s", At: at.Add(time.Second),
			Dimensions: []outputs.Dimension{{Name: "run", Value: "r1"}}},
		{Metric: "huge", Value: 1e300, At: at, Dimensions: []outputs.Dimension{{Name: "run", Value: "r1"}}},
		{Metric: "negative", Value: -7, At: at, Dimensions: []outputs.Dimension{{Name: "a", Value: "1"}, {Name: "b", Value: "2"},
			{Name: "c", Value: "3"}, {Name: "d", Value: "4"}}},
	}
	if err := s.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	got := srv.Points()
	if len(got) != len(in) {
		t.Fatalf("stored %d points, want %d", len(got), len(in))
	}
	wantTypes := []string{"int", "int", "float", "float", "int"}
	for i, p := range got {
		d := in[i]
		if p.Project != cesemu.DefaultProject || p.Namespace != DefaultNamespace || p.Metric != d.Metric ||
			p.Value != d.Value || p.Unit != d.Unit || p.TTL != 3600 || !p.CollectTime.Equal(d.At) || p.Type != wantTypes[i] {
			t.Errorf("point %d = %+v, want %+v (type %s)", i, p, d, wantTypes[i])
		}
		if len(p.Dimensions) != len(d.Dimensions) {
			t.Fatalf("point %d dimensions %v, want %v", i, p.Dimensions, d.Dimensions)
		}
		for j, dim := range p.Dimensions {
			if dim.Name != d.Dimensions[j].Name || dim.Value != d.Dimensions[j].Value {
				t.Errorf("point %d dimension %d = %v, want %v", i, j, dim, d.Dimensions[j])
			}
		}
	}
	if c := srv.Calls(); c.Total != 1 || c.Status[201] != 1 {
		t.Errorf("calls %+v, want one answered 201", c)
	}
	// Nothing to put: no call.
	if err := s.Put(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if c := srv.Calls(); c.Total != 1 {
		t.Errorf("an empty Put made a call: %+v", c)
	}
}

// bigPoints are n data points of about 1.2 KB each once encoded.
func bigPoints(n int, at time.Time) []outputs.Datum {
	out := make([]outputs.Datum, n)
	for i := range out {
		out[i] = outputs.Datum{Metric: "keys_checked", Value: float64(i), Unit: "count", At: at}
		for _, name := range []string{"a", "b", "c", "d"} {
			v := fmt.Sprintf("%s%05d-%s", name, i, strings.Repeat("v", 240))
			out[i].Dimensions = append(out[i].Dimensions, outputs.Dimension{Name: name, Value: v})
		}
	}
	return out
}

func TestPutSplitsAtTheBodyLimit(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	s := newSink(t, url, nil)
	in := bigPoints(2000, time.Now())
	// What the sink will send: its own sizes, and the fewest calls.
	sizes := make([]int, len(in))
	total := 0
	for i, d := range in {
		n, err := encodedLen(s.item(d))
		if err != nil {
			t.Fatal(err)
		}
		sizes[i], total = n, total+n
	}
	minCalls := (bodyLen(total, len(in)) + MaxRequestBytes - 1) / MaxRequestBytes
	batches := split(sizes, MaxRequestBytes, 0)
	if len(batches) < 2 || len(batches) > minCalls+1 {
		t.Fatalf("%d batches for %d bytes: want 2 to %d", len(batches), total, minCalls+1)
	}
	if err := s.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	c := srv.Calls()
	if c.Total != len(batches) || c.Status[201] != len(batches) {
		t.Fatalf("calls %+v, want %d answered 201", c, len(batches))
	}
	for k, b := range batches {
		sum := 0
		for _, n := range sizes[b[0]:b[1]] {
			sum += n
		}
		want := bodyLen(sum, b[1]-b[0])
		if c.Bodies[k] != want || want > MaxRequestBytes {
			t.Errorf("call %d: body of %d bytes, want %d (at most %d)", k, c.Bodies[k], want, MaxRequestBytes)
		}
		// Fewest calls: the next point would not have fitted.
		if b[1] < len(in) && bodyLen(sum+sizes[b[1]], b[1]-b[0]+1) <= MaxRequestBytes {
			t.Errorf("call %d stopped at %d with room for the next point", k, b[1])
		}
	}
	got := srv.Points()
	if len(got) != len(in) {
		t.Fatalf("stored %d points, want %d", len(got), len(in))
	}
	for i, p := range got {
		if p.Value != in[i].Value || p.Dimensions[3].Value != in[i].Dimensions[3].Value {
			t.Fatalf("point %d = %v, want %v (order kept)", i, p, in[i])
		}
	}
}

func TestPutSplitsAtMaxItems(t *testing.T) {
	srv, url := start(t, cesemu.Options{MaxItems: 10})
	s := newSink(t, url, func(c *Config) { c.MaxItems = 10 })
	in := make([]outputs.Datum, 25)
	for i := range in {
		in[i] = datum("m", float64(i), time.Now(), "d", "v")
	}
	if err := s.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if c := srv.Calls(); c.Total != 3 || c.Status[201] != 3 || len(srv.Points()) != 25 {
		t.Errorf("calls %+v, %d points: want 3 calls and 25 points", c, len(srv.Points()))
	}
	// Without the sink's bound, the emulator's refuses the call: 400 ces.0014.
	srv.Reset()
	s = newSink(t, url, nil)
	err := s.Put(context.Background(), in)
	oe := asError(t, err)
	if oe.Status != 400 || oe.Code != "ces.0014" || !errors.Is(err, outputs.ErrInvalid) || oe.Retryable() {
		t.Errorf("error %v: want 400 ces.0014, invalid, not retryable", err)
	}
	if !strings.Contains(oe.Message, "at most 10") {
		t.Errorf("message %q does not say what was wrong", oe.Message)
	}
}

func TestPutRefusesInvalidDataBeforeAnyCall(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	s := newSink(t, url, nil)
	now := time.Now()
	good := datum("m", 1, now, "d", "v")
	for _, tc := range []struct {
		name string
		mod  func(*outputs.Datum)
		want string
	}{
		{"metric name", func(d *outputs.Datum) { d.Metric = "1bad" }, "metric name"},
		{"no dimension", func(d *outputs.Datum) { d.Dimensions = nil }, "0 dimensions"},
		{"five dimensions", func(d *outputs.Datum) {
			for _, n := range []string{"a", "b", "c", "e"} {
				d.Dimensions = append(d.Dimensions, outputs.Dimension{Name: n, Value: "v"})
			}
		}, "5 dimensions"},
		{"dimension name", func(d *outputs.Datum) { d.Dimensions[0].Name = "9d" }, "dimension name"},
		{"dimension value", func(d *outputs.Datum) { d.Dimensions[0].Value = "ap-southeast-1/p1" }, "letters, digits"},
		{"empty value", func(d *outputs.Datum) { d.Dimensions[0].Value = "" }, "want 1 to 256"},
		{"twice", func(d *outputs.Datum) {
			d.Dimensions = append(d.Dimensions, outputs.Dimension{Name: "d", Value: "w"})
		}, "twice"},
		{"NaN", func(d *outputs.Datum) { d.Value = math.NaN() }, "finite"},
		{"Inf", func(d *outputs.Datum) { d.Value = math.Inf(-1) }, "finite"},
		{"unit", func(d *outputs.Datum) { d.Unit = strings.Repeat("u", 33) }, "unit"},
		{"no time", func(d *outputs.Datum) { d.At = time.Time{} }, "no collect time"},
		{"too old", func(d *outputs.Datum) { d.At = now.Add(-72 * time.Hour) }, "three days"},
		{"too far ahead", func(d *outputs.Datum) { d.At = now.Add(10 * time.Minute) }, "ten minutes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			bad.Dimensions = append([]outputs.Dimension(nil), good.Dimensions...)
			tc.mod(&bad)
			err := s.Put(context.Background(), []outputs.Datum{good, good, bad, good})
			oe := asError(t, err)
			if !errors.Is(err, outputs.ErrInvalid) || oe.Status != 0 || oe.Retryable() {
				t.Errorf("error %v: want invalid, status 0, not retryable", err)
			}
			if !strings.Contains(oe.Message, "datum 2 (metric ") || !strings.Contains(oe.Message, tc.want) {
				t.Errorf("message %q: want it to name datum 2 and say %q", oe.Message, tc.want)
			}
		})
	}
	if c := srv.Calls(); c.Total != 0 {
		t.Errorf("the refusals made calls: %+v", c)
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	creds := &huaweikms.Credentials{AccessKey: "AK", SecretKey: "SECRET-sk"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"system namespace", Config{Namespace: "SYS.KMS", Endpoint: "http://127.0.0.1:1", ProjectID: "p", Credentials: creds}, "reserved"},
		{"bad namespace", Config{Namespace: "tagwarden", Endpoint: "http://127.0.0.1:1", ProjectID: "p", Credentials: creds}, "service.item"},
		{"ttl", Config{TTL: MaxTTL + 1, Endpoint: "http://127.0.0.1:1", ProjectID: "p", Credentials: creds}, "ttl"},
		{"no endpoint", Config{ProjectID: "p", Credentials: creds}, "no CES endpoint"},
		{"endpoint with a user", Config{Endpoint: "http://user:hunter2@127.0.0.1:1", ProjectID: "p", Credentials: creds}, "user name"},
		{"endpoint with a query", Config{Endpoint: "http://127.0.0.1:1/?token=hunter2", ProjectID: "p", Credentials: creds}, "query"},
		{"bad region", Config{Region: "../x", ProjectID: "p", Credentials: creds}, "region"},
		{"no project", Config{Endpoint: "http://127.0.0.1:1", Credentials: creds}, "project"},
		{"no secret", Config{Endpoint: "http://127.0.0.1:1", ProjectID: "p", Credentials: &huaweikms.Credentials{AccessKey: "AK"}}, "secret key"},
		{"max items", Config{MaxItems: -1, Endpoint: "http://127.0.0.1:1", ProjectID: "p", Credentials: creds}, "MaxItems"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "SECRET-sk") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestNewEndpointsAndCredentialChain(t *testing.T) {
	creds := &huaweikms.Credentials{AccessKey: "AK", SecretKey: "SK"}
	s, err := New(Config{Region: "ap-southeast-1", ProjectID: "p", Credentials: creds})
	if err != nil || s.Endpoint() != "https://ces.ap-southeast-1.myhuaweicloud.com" {
		t.Fatalf("region endpoint %v, %v", s, err)
	}
	s, err = New(Config{Region: "xx-unknown-9", ProjectID: "p", Credentials: creds})
	if err != nil || s.Endpoint() != "https://ces.xx-unknown-9.myhuaweicloud.com" {
		t.Fatalf("unknown region endpoint %v, %v", s, err)
	}
	s, err = New(Config{Endpoint: "127.0.0.1:8080/", Region: "ap-southeast-1", ProjectID: "p", Credentials: creds})
	if err != nil || s.Endpoint() != "https://127.0.0.1:8080" {
		t.Fatalf("override %v, %v", s, err)
	}
	// The SDK's chain: the environment.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("HUAWEICLOUD_SDK_AK", "ENVAK")
	t.Setenv("HUAWEICLOUD_SDK_SK", "ENVSK")
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "envproject")
	s, err = New(Config{Endpoint: "http://127.0.0.1:1"})
	if err != nil || s.ProjectID() != "envproject" {
		t.Fatalf("credential chain: %v, %v", s, err)
	}
	s, err = New(Config{Endpoint: "http://127.0.0.1:1", ProjectID: "mine"})
	if err != nil || s.ProjectID() != "mine" {
		t.Fatalf("credential chain with a project: %v, %v", s, err)
	}
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	if _, err := New(Config{Endpoint: "http://127.0.0.1:1", ProjectID: "p"}); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("no credentials anywhere: %v", err)
	}
}

func TestPutUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		name        string
		serverToken string
		creds       huaweikms.Credentials
		fault       bool
	}{
		{"wrong secret key", "", huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: "wrong-secret"}, false},
		{"wrong access key", "", huaweikms.Credentials{AccessKey: "OTHERAK", SecretKey: cesemu.DefaultSK}, false},
		{"wrong token", "the-token", huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK, SecurityToken: "expired-token"}, false},
		{"missing token", "the-token", huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK}, false},
		{"token for permanent keys", "", huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK, SecurityToken: "stray-token"}, false},
		{"expired (injected)", "", huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := start(t, cesemu.Options{SecurityToken: tc.serverToken})
			srv.SetFaults(cesemu.Faults{Unauthorized: tc.fault})
			creds := tc.creds
			s := newSink(t, url, func(c *Config) { c.Credentials = &creds })
			err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
			oe := asError(t, err)
			if oe.Status != 401 || oe.Code != "APIGW.0301" || !errors.Is(err, outputs.ErrDenied) || oe.Retryable() {
				t.Errorf("error %v: want 401 APIGW.0301, denied, not retryable", err)
			}
			if !strings.Contains(oe.Message, "Incorrect IAM authentication information") || !strings.Contains(oe.Message, "[request id ") {
				t.Errorf("message %q: want the gateway's words and the request id", oe.Message)
			}
			for _, secret := range []string{creds.SecretKey, creds.SecurityToken} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
			if len(srv.Points()) != 0 {
				t.Error("a refused call stored points")
			}
		})
	}
	// The right temporary credentials pass.
	srv, url := start(t, cesemu.Options{SecurityToken: "the-token"})
	s := newSink(t, url, func(c *Config) { c.Credentials.SecurityToken = "the-token" })
	if err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")}); err != nil || len(srv.Points()) != 1 {
		t.Errorf("temporary credentials: %v, %d points", err, len(srv.Points()))
	}
}

func TestPutErrorKinds(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	s := newSink(t, url, nil)
	for _, tc := range []struct {
		status    int
		code      string
		kind      error
		retryable bool
	}{
		{429, "APIG.0308", outputs.ErrThrottled, true},
		{500, "ces.0007", outputs.ErrTransient, true},
		{502, "APIG.0202", outputs.ErrTransient, true},
		{503, "ces.0007", outputs.ErrTransient, true},
		{504, "APIG.0203", outputs.ErrTransient, true},
		{408, "ces.0011", outputs.ErrTransient, true},
		{400, "ces.0014", outputs.ErrInvalid, false},
		{403, "ces.0017", outputs.ErrDenied, false},
		{404, "ces.0016", outputs.ErrNotFound, false},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv.Reset()
			srv.SetFaults(cesemu.Faults{Sequence: []int{tc.status}})
			in := []outputs.Datum{datum("m", 1, time.Now(), "d", "v")}
			err := s.Put(context.Background(), in)
			oe := asError(t, err)
			if oe.Status != tc.status || oe.Code != tc.code || !errors.Is(err, tc.kind) || oe.Retryable() != tc.retryable {
				t.Errorf("error %v (kind %v): want %d %s %v retryable=%v", err, oe.Kind, tc.status, tc.code, tc.kind, tc.retryable)
			}
			if c := srv.Calls(); c.Total != 1 {
				t.Errorf("%d calls, want one attempt", c.Total)
			}
			// The sequence is spent: the caller's retry goes through.
			if err := s.Put(context.Background(), in); err != nil {
				t.Errorf("retry: %v", err)
			}
		})
	}
}

func TestPutSystemNamespaceRefusedByTheService(t *testing.T) {
	// The sink never sends one; a hand-built body shows how the service
	// answers and how the table reads it: 403 ces.0009, invalid.
	oe := errorHandler{}.errorFor(403, `{"code":403,"element":"Forbidden","message":"Forbidden","details":{"details":"Adding SYS metric is not allowed","code":"ces.0009"}}`, "rid")
	if oe.Kind != outputs.ErrInvalid || oe.Code != "ces.0009" || oe.Message != "Forbidden: Adding SYS metric is not allowed [request id rid]" {
		t.Errorf("got %+v", oe)
	}
}

func TestPutServiceRefusalMessage(t *testing.T) {
	// The sink's clock four days behind the emulator's: a collect time
	// the sink finds recent is too old for the service, whose answer
	// comes back whole.
	srv, url := start(t, cesemu.Options{})
	behind := -96 * time.Hour
	s := newSink(t, url, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(behind) } })
	err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now().Add(behind-time.Minute), "d", "v")})
	oe := asError(t, err)
	if oe.Status != 400 || oe.Code != "ces.0014" || !errors.Is(err, outputs.ErrInvalid) || oe.Retryable() {
		t.Fatalf("error %v: want 400 ces.0014, invalid", err)
	}
	if !strings.Contains(oe.Message, "The system received a request which cannot be recognized: item 0: collect_time") ||
		!strings.Contains(oe.Message, "[request id ") {
		t.Errorf("message %q: want CES's message, the details and the request id", oe.Message)
	}
	if len(srv.Points()) != 0 {
		t.Error("a refused call stored points")
	}
}

func TestPutUnknownProject(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	s := newSink(t, url, func(c *Config) { c.ProjectID = "0123456789abcdef0123456789abcdef" })
	err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	oe := asError(t, err)
	if oe.Status != 403 || oe.Code != "APIGW.0302" || !errors.Is(err, outputs.ErrDenied) || oe.Retryable() {
		t.Errorf("error %v: want 403 APIGW.0302, denied, not retryable", err)
	}
	if !strings.Contains(oe.Message, "0123456789abcdef0123456789abcdef") {
		t.Errorf("message %q does not name the project", oe.Message)
	}
	if len(srv.Points()) != 0 {
		t.Error("points stored in another project")
	}
}

func TestPutHonoursTheDeadline(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	srv.SetFaults(cesemu.Faults{Latency: 3 * time.Second})
	s := newSink(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := s.Put(ctx, []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Put took %v past a 150ms deadline", took)
	}
	oe := asError(t, err)
	if oe.Status != 0 || !errors.Is(err, outputs.ErrTransient) || !oe.Retryable() || !strings.Contains(oe.Message, "deadline exceeded") {
		t.Errorf("error %v: want status 0, transient, saying the deadline passed", err)
	}
	// The server saw the client go and stored nothing.
	for end := time.Now().Add(3 * time.Second); srv.Calls().Status[0] == 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if c := srv.Calls(); c.Status[0] != 1 || len(srv.Points()) != 0 {
		t.Errorf("calls %+v, %d points: want one call unanswered and nothing stored", c, len(srv.Points()))
	}
	// A context already done makes no call.
	srv.Reset()
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	err = s.Put(done, []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	if oe := asError(t, err); !errors.Is(err, outputs.ErrTransient) || oe.Status != 0 {
		t.Errorf("done context: %v", err)
	}
	if c := srv.Calls(); c.Total != 0 {
		t.Errorf("a done context made a call: %+v", c)
	}
}

func TestPutHTTPTimeout(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	srv.SetFaults(cesemu.Faults{Latency: 3 * time.Second})
	s := newSink(t, url, func(c *Config) { c.HTTPTimeout = 100 * time.Millisecond })
	began := time.Now()
	err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	if time.Since(began) > 2*time.Second {
		t.Errorf("HTTPTimeout not honoured")
	}
	if oe := asError(t, err); !errors.Is(err, outputs.ErrTransient) || oe.Status != 0 {
		t.Errorf("error %v: want transient, status 0", err)
	}
}

func TestPutDroppedConnection(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	srv.SetFaults(cesemu.Faults{DropRate: 1, Seed: 1})
	s := newSink(t, url, nil)
	err := s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	if oe := asError(t, err); !errors.Is(err, outputs.ErrTransient) || oe.Status != 0 || !oe.Retryable() {
		t.Errorf("error %v: want transient, status 0", err)
	}
}

func TestPutStopsAtTheFirstFailedCall(t *testing.T) {
	srv, url := start(t, cesemu.Options{MaxItems: 2})
	srv.SetFaults(cesemu.Faults{Sequence: []int{0, 503}})
	s := newSink(t, url, func(c *Config) { c.MaxItems = 2 })
	in := make([]outputs.Datum, 6)
	for i := range in {
		in[i] = datum("m", float64(i), time.Now(), "d", "v")
	}
	err := s.Put(context.Background(), in)
	oe := asError(t, err)
	if oe.Status != 503 || !strings.Contains(oe.Message, "(call 2 of 3; 2 of 6 points stored before it)") {
		t.Errorf("error %v: want 503 at call 2 of 3 after 2 points", err)
	}
	if c := srv.Calls(); c.Total != 2 || len(srv.Points()) != 2 {
		t.Errorf("calls %+v, %d points: want 2 calls, 2 points", c, len(srv.Points()))
	}
}

// echoTransport answers every request with status and body, and keeps
// the requests' bodies.
type echoTransport struct {
	status int
	body   string
	mu     sync.Mutex
	seen   []string
}

func (e *echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.seen = append(e.seen, string(b))
	e.mu.Unlock()
	return &http.Response{StatusCode: e.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(e.body)), Request: r}, nil
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	ak, sk, token := "AKSECRETACCESSKEY123", "sk/with+special=chars", "token-0123456789"
	body := fmt.Sprintf(`{"error_code":"APIGW.0301","error_msg":"access key %s with %s and %s refused","request_id":"%s"}`, ak, sk, token, token)
	tr := &echoTransport{status: 401, body: body}
	s, err := New(Config{Endpoint: "http://127.0.0.1:1", ProjectID: "p", Transport: tr,
		Credentials: &huaweikms.Credentials{AccessKey: ak, SecretKey: sk, SecurityToken: token}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), []outputs.Datum{datum("m", 1, time.Now(), "d", "v")})
	oe := asError(t, err)
	for _, secret := range []string{ak, sk, token} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %q: %v", secret, err)
		}
	}
	if !strings.Contains(oe.Message, "AKSE****") || oe.Code != "APIGW.0301" || oe.Kind != outputs.ErrDenied {
		t.Errorf("error %+v: want the masked access key, APIGW.0301, denied", oe)
	}
	if len(tr.seen) != 1 || !strings.HasPrefix(tr.seen[0], "[{") {
		t.Errorf("requests %q: want one JSON array", tr.seen)
	}
}

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body, code, msg, reqID string
	}{
		{`{"code":400,"element":"Bad Request","message":"The system received a request which cannot be recognized","details":{"details":"Some content in message body is not correct","code":"ces.0014"}}`,
			"ces.0014", "The system received a request which cannot be recognized: Some content in message body is not correct", ""},
		{`{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"r1"}`,
			"APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail", "r1"},
		{`{"error":{"code":"ces.0016","message":"The requested resource does not exist."}}`, "ces.0016", "The requested resource does not exist.", ""},
		{`{"code":"ces.0007","message":"Internal service error."}`, "ces.0007", "Internal service error.", ""},
		{`{"http_code":"403","message":{"details":"Policy doesn't allow [ces:metricData:create] to be performed","code":"403"}}`,
			"", `{"http_code":"403","message":{"details":"Policy doesn't allow [ces:metricData:create] to be performed","code":"403"}}`, ""},
		{`<html>bad gateway</html>`, "", "<html>bad gateway</html>", ""},
		{``, "", "", ""},
	} {
		code, msg, reqID := parseErrorBody([]byte(tc.body))
		if code != tc.code || msg != tc.msg || reqID != tc.reqID {
			t.Errorf("parseErrorBody(%s) = %q, %q, %q; want %q, %q, %q", tc.body, code, msg, reqID, tc.code, tc.msg, tc.reqID)
		}
	}
}

func TestKindTable(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		kind   error
	}{
		{429, "", outputs.ErrThrottled},
		{400, "APIG.0308", outputs.ErrThrottled},
		{403, "ces.0009", outputs.ErrInvalid},
		{403, "CES.0009", outputs.ErrInvalid},
		{403, "APIGW.0302", outputs.ErrDenied},
		{401, "ces.0015", outputs.ErrDenied},
		{404, "APIGW.0101", outputs.ErrNotFound},
		{413, "APIG.0201", outputs.ErrInvalid},
		{400, "ces.0003", outputs.ErrInvalid},
		{500, "ces.0008", outputs.ErrTransient},
		{507, "", outputs.ErrTransient},
		{302, "", outputs.ErrInvalid},
		{418, "", outputs.ErrInvalid},
	} {
		if got := kindOf(tc.status, tc.code); got != tc.kind {
			t.Errorf("kindOf(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.kind)
		}
	}
}
