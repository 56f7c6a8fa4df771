package cesemu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
)

// creds sign a raw request.
type creds struct{ ak, sk, token, project string }

func defaultCreds() creds {
	return creds{ak: cesemu.DefaultAK, sk: cesemu.DefaultSK, project: cesemu.DefaultProject}
}

// raw is a request to sign with the SDK's own signer and send with
// net/http, so that tests choose the body byte for byte.
type raw struct {
	method, path, body, contentType string
	creds                           creds
	headers                         map[string]string // extra headers, signed
}

func signed(t *testing.T, base string, r raw) *http.Request {
	t.Helper()
	if r.creds == (creds{}) {
		r.creds = defaultCreds()
	}
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/V1.0/" + r.creds.project + "/metric-data"
	}
	if r.contentType == "" {
		r.contentType = "application/json"
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(base).WithMethod(r.method).WithPath(r.path).
		AddHeaderParam("Content-Type", r.contentType).
		AddHeaderParam("X-Project-Id", r.creds.project)
	if r.creds.token != "" {
		b = b.AddHeaderParam("X-Security-Token", r.creds.token)
	}
	for k, v := range r.headers {
		b = b.AddHeaderParam(k, v)
	}
	if r.body != "" {
		b = b.WithBody("body", r.body)
	}
	req := b.Build()
	add, err := signer.Sign(req, r.creds.ak, r.creds.sk)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	for k, v := range add {
		req.AddHeaderParam(k, v)
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatalf("convert request: %v", err)
	}
	return hr
}

// answer is a decoded answer.
type answer struct {
	status int
	body   map[string]any
	raw    string
}

// code is the answer's error code: Cloud Eye's details.code or the
// gateway's error_code.
func (a answer) code() string {
	if d, ok := a.body["details"].(map[string]any); ok {
		s, _ := d["code"].(string)
		return s
	}
	s, _ := a.body["error_code"].(string)
	return s
}

// detail is what the answer says was wrong.
func (a answer) detail() string {
	if d, ok := a.body["details"].(map[string]any); ok {
		s, _ := d["details"].(string)
		return s
	}
	s, _ := a.body["error_msg"].(string)
	return s
}

func call(t *testing.T, base string, r raw) answer {
	t.Helper()
	return send(t, signed(t, base, r))
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL.Path)
	}
	a := answer{status: resp.StatusCode, raw: string(data)}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &a.body); err != nil {
			t.Fatalf("answer %q is not a JSON object: %v", data, err)
		}
	}
	return a
}

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

// item is one valid item as JSON, with the fields of over replacing or
// (nil) removing the defaults.
func item(over map[string]any) map[string]any {
	m := map[string]any{
		"metric": map[string]any{"namespace": "TagWarden.KMS", "metric_name": "keys_checked",
			"dimensions": []map[string]string{{"name": "target", "value": "ap-southeast-1"}}},
		"ttl": 172800, "collect_time": time.Now().UnixMilli(), "value": 12, "unit": "count", "type": "int",
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func metric(over map[string]any) map[string]any {
	m := map[string]any{"namespace": "TagWarden.KMS", "metric_name": "keys_checked",
		"dimensions": []map[string]string{{"name": "target", "value": "ap-southeast-1"}}}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func body(t *testing.T, items ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStoresAValidRequest(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	a := call(t, url, raw{body: body(t,
		item(map[string]any{"collect_time": at.UnixMilli()}),
		item(map[string]any{"value": 0.5, "type": "float", "unit": nil, "metric": metric(map[string]any{
			"dimensions": []map[string]string{{"name": "a", "value": "1"}, {"name": "b", "value": "x-2"}}})}),
		item(map[string]any{"type": nil, "value": -3}),
	)})
	if a.status != 201 || a.raw != "" {
		t.Fatalf("answer %d %q, want 201 with no body", a.status, a.raw)
	}
	pts := srv.Points()
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3", len(pts))
	}
	p := pts[0]
	if p.Project != cesemu.DefaultProject || p.Namespace != "TagWarden.KMS" || p.Metric != "keys_checked" || p.Value != 12 ||
		p.Type != "int" || p.Unit != "count" || p.TTL != 172800 || !p.CollectTime.Equal(at) ||
		len(p.Dimensions) != 1 || p.Dimensions[0] != (cesemu.Dimension{Name: "target", Value: "ap-southeast-1"}) {
		t.Errorf("point 0 = %+v", p)
	}
	if pts[1].Value != 0.5 || pts[1].Type != "float" || pts[1].Unit != "" || len(pts[1].Dimensions) != 2 {
		t.Errorf("point 1 = %+v", pts[1])
	}
	if pts[2].Type != "" || pts[2].Value != -3 {
		t.Errorf("point 2 = %+v", pts[2])
	}
	if c := srv.Calls(); c.Total != 1 || c.Status[201] != 1 || len(c.Bodies) != 1 {
		t.Errorf("calls %+v", c)
	}
	srv.Reset()
	if c := srv.Calls(); c.Total != 0 || len(srv.Points()) != 0 {
		t.Errorf("after Reset: %+v, %d points", c, len(srv.Points()))
	}
}

func TestRefusesBadBodies(t *testing.T) {
	now := time.Now()
	long := func(n int) string { return strings.Repeat("v", n) }
	dims := func(d ...string) map[string]any {
		out := []map[string]string{}
		for i := 0; i+1 < len(d); i += 2 {
			out = append(out, map[string]string{"name": d[i], "value": d[i+1]})
		}
		return metric(map[string]any{"dimensions": out})
	}
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
		says   string
	}{
		{"empty body", "", 400, "ces.0001", "content must be specified"},
		{"empty array", "[]", 400, "ces.0001", "content must be specified"},
		{"an object", `{"metric":{}}`, 400, "ces.0014", "JSON array"},
		{"not JSON", `[{`, 400, "ces.0014", "malformed"},
		{"trailing data", body(t, item(nil)) + `[]`, 400, "ces.0014", "after"},
		{"unknown field", body(t, item(map[string]any{"extra": 1})), 400, "ces.0014", "unknown field"},
		{"unknown metric field", body(t, item(map[string]any{"metric": metric(map[string]any{"x": 1})})), 400, "ces.0014", "unknown field"},
		{"key twice", `[{"ttl":1,"ttl":2}]`, 400, "ces.0014", "twice"},
		{"no metric", body(t, item(map[string]any{"metric": nil})), 400, "ces.0014", "metric is required"},
		{"no namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": nil})})), 400, "ces.0014", "namespace is required"},
		{"bad namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "tagwarden"})})), 400, "ces.0014", "service.item"},
		{"long namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "A" + long(20) + ".b" + long(10)})})), 400, "ces.0014", "3 to 32"},
		{"SYS namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "SYS.ECS"})})), 403, "ces.0009", "Adding SYS metric is not allowed"},
		{"agt namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "agt.x"})})), 403, "ces.0009", "SYS"},
		{"SRE namespace", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "SREteam.x"})})), 403, "ces.0009", "SYS"},
		{"SERVICE.BMS", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": "SERVICE.BMS"})})), 403, "ces.0009", "system"},
		{"namespace a number", body(t, item(map[string]any{"metric": metric(map[string]any{"namespace": 5})})), 400, "ces.0014", "string"},
		{"metric name", body(t, item(map[string]any{"metric": metric(map[string]any{"metric_name": "9lives"})})), 400, "ces.0014", "metric_name"},
		{"metric name too long", body(t, item(map[string]any{"metric": metric(map[string]any{"metric_name": "m" + long(96)})})), 400, "ces.0014", "metric_name"},
		{"no dimensions", body(t, item(map[string]any{"metric": metric(map[string]any{"dimensions": nil})})), 400, "ces.0014", "dimensions is required"},
		{"zero dimensions", body(t, item(map[string]any{"metric": dims()})), 400, "ces.0014", "0 dimensions"},
		{"five dimensions", body(t, item(map[string]any{"metric": dims("a", "1", "b", "2", "c", "3", "d", "4", "e", "5")})), 400, "ces.0014", "5 dimensions"},
		{"dimension twice", body(t, item(map[string]any{"metric": dims("a", "1", "a", "2")})), 400, "ces.0014", "twice"},
		{"dimension name", body(t, item(map[string]any{"metric": dims("_a", "1")})), 400, "ces.0014", "name"},
		{"dimension name too long", body(t, item(map[string]any{"metric": dims("a"+long(32), "1")})), 400, "ces.0014", "name"},
		{"dimension value slash", body(t, item(map[string]any{"metric": dims("target", "ap-southeast-1/p1")})), 400, "ces.0014", "value"},
		{"dimension value empty", body(t, item(map[string]any{"metric": dims("target", "")})), 400, "ces.0014", "value"},
		{"dimension value too long", body(t, item(map[string]any{"metric": dims("target", long(257))})), 400, "ces.0014", "value"},
		{"dimension unknown field", body(t, item(map[string]any{"metric": metric(map[string]any{
			"dimensions": []map[string]string{{"name": "a", "value": "1", "unit": "x"}}})})), 400, "ces.0014", "unknown field"},
		{"no ttl", body(t, item(map[string]any{"ttl": nil})), 400, "ces.0014", "ttl is required"},
		{"ttl 0", body(t, item(map[string]any{"ttl": 0})), 400, "ces.0014", "ttl 0"},
		{"ttl too long", body(t, item(map[string]any{"ttl": 604801})), 400, "ces.0014", "604800"},
		{"ttl quoted", body(t, item(map[string]any{"ttl": "3600"})), 400, "ces.0014", "must be a number"},
		{"ttl fraction", body(t, item(map[string]any{"ttl": 3600.5})), 400, "ces.0014", "integer"},
		{"collect time quoted", body(t, item(map[string]any{"collect_time": fmt.Sprint(now.UnixMilli())})), 400, "ces.0014", "number"},
		{"collect time too old", body(t, item(map[string]any{"collect_time": now.Add(-73 * time.Hour).UnixMilli()})), 400, "ces.0014", "collect_time"},
		{"collect time too far ahead", body(t, item(map[string]any{"collect_time": now.Add(11 * time.Minute).UnixMilli()})), 400, "ces.0014", "collect_time"},
		{"collect time in seconds", body(t, item(map[string]any{"collect_time": now.Unix()})), 400, "ces.0014", "collect_time"},
		{"no value", body(t, item(map[string]any{"value": nil})), 400, "ces.0014", "value is required"},
		{"value quoted", body(t, item(map[string]any{"value": "12"})), 400, "ces.0014", "value must be a number"},
		{"value overflows", strings.Replace(body(t, item(nil)), `"value":12`, `"value":1e400`, 1), 400, "ces.0014", "finite"},
		{"unit too long", body(t, item(map[string]any{"unit": long(33)})), 400, "ces.0014", "unit"},
		{"unit a number", body(t, item(map[string]any{"unit": 5})), 400, "ces.0014", "unit must be a string"},
		{"type", body(t, item(map[string]any{"type": "double"})), 400, "ces.0014", "int or float"},
		{"int with a fraction", body(t, item(map[string]any{"type": "int", "value": 1.5})), 400, "ces.0014", "fraction"},
		{"second item bad", body(t, item(nil), item(map[string]any{"ttl": 0})), 400, "ces.0014", "item 1: ttl"},
		{"too large", "[" + strings.Repeat(body(t, item(nil))[1:len(body(t, item(nil)))-1]+",", 2500) + body(t, item(nil))[1:], 400, "ces.0014", "512 KB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := start(t, cesemu.Options{})
			a := call(t, url, raw{body: tc.body})
			if a.status != tc.status || a.code() != tc.code || !strings.Contains(a.detail(), tc.says) {
				t.Errorf("answer %d %s %q, want %d %s saying %q", a.status, a.code(), a.detail(), tc.status, tc.code, tc.says)
			}
			// Cloud Eye's error body: code (the status, a number), element, message, details.
			if c, _ := a.body["code"].(float64); int(c) != tc.status || a.body["element"] != http.StatusText(tc.status) || a.body["message"] == "" {
				t.Errorf("body %s: not Cloud Eye's error shape", a.raw)
			}
			if len(srv.Points()) != 0 {
				t.Error("a refused request stored points")
			}
		})
	}
}

func TestMaxItems(t *testing.T) {
	srv, url := start(t, cesemu.Options{MaxItems: 2})
	if a := call(t, url, raw{body: body(t, item(nil), item(nil))}); a.status != 201 {
		t.Fatalf("two items: %d %s", a.status, a.raw)
	}
	if a := call(t, url, raw{body: body(t, item(nil), item(nil), item(nil))}); a.status != 400 || a.code() != "ces.0014" {
		t.Fatalf("three items: %d %s", a.status, a.raw)
	}
	if len(srv.Points()) != 2 {
		t.Errorf("%d points, want 2", len(srv.Points()))
	}
}

func TestGatewayChecks(t *testing.T) {
	valid := func(t *testing.T) string { return body(t, item(nil)) }
	for _, tc := range []struct {
		name   string
		opts   cesemu.Options
		r      func(t *testing.T) raw
		status int
		code   string
		says   string
	}{
		{"unknown path", cesemu.Options{}, func(t *testing.T) raw {
			return raw{path: "/V1.0/" + cesemu.DefaultProject + "/metric-datas", body: valid(t)}
		}, 404, "APIGW.0101", "does not exist"},
		{"lower-case version", cesemu.Options{}, func(t *testing.T) raw {
			return raw{path: "/v1.0/" + cesemu.DefaultProject + "/metric-data", body: valid(t)}
		}, 404, "APIGW.0101", "does not exist"},
		{"GET", cesemu.Options{}, func(t *testing.T) raw { return raw{method: http.MethodGet} }, 404, "APIGW.0101", "does not exist"},
		{"wrong secret key", cesemu.Options{}, func(t *testing.T) raw {
			c := defaultCreds()
			c.sk = "wrong"
			return raw{creds: c, body: valid(t)}
		}, 401, "APIGW.0301", "verify aksk signature fail"},
		{"wrong access key", cesemu.Options{}, func(t *testing.T) raw {
			c := defaultCreds()
			c.ak = "OTHER"
			return raw{creds: c, body: valid(t)}
		}, 401, "APIGW.0301", "access key does not exist"},
		{"missing token", cesemu.Options{SecurityToken: "tok"}, func(t *testing.T) raw { return raw{body: valid(t)} }, 401, "APIGW.0301", "security token is missing"},
		{"wrong token", cesemu.Options{SecurityToken: "tok"}, func(t *testing.T) raw {
			c := defaultCreds()
			c.token = "old"
			return raw{creds: c, body: valid(t)}
		}, 401, "APIGW.0301", "security token is invalid"},
		{"unknown project", cesemu.Options{}, func(t *testing.T) raw {
			c := defaultCreds()
			c.project = "0123456789abcdef0123456789abcdef"
			return raw{creds: c, body: valid(t)}
		}, 403, "APIGW.0302", "does not belong to this account"},
		{"project header differs", cesemu.Options{}, func(t *testing.T) raw {
			return raw{path: "/V1.0/" + cesemu.DefaultProject + "/metric-data", body: valid(t),
				creds: creds{ak: cesemu.DefaultAK, sk: cesemu.DefaultSK, project: "otherproject"}}
		}, 403, "APIGW.0302", "X-Project-Id"},
		{"malformed project", cesemu.Options{}, func(t *testing.T) raw {
			c := defaultCreds()
			c.project = "bad_project"
			return raw{creds: c, body: valid(t)}
		}, 400, "ces.0003", "tenant ID"},
		{"content type", cesemu.Options{}, func(t *testing.T) raw { return raw{body: valid(t), contentType: "text/plain"} }, 400, "ces.0011", "Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := start(t, tc.opts)
			a := call(t, url, tc.r(t))
			if a.status != tc.status || a.code() != tc.code || !strings.Contains(a.detail(), tc.says) {
				t.Errorf("answer %d %s %q, want %d %s saying %q", a.status, a.code(), a.detail(), tc.status, tc.code, tc.says)
			}
			if strings.HasPrefix(tc.code, "APIG") {
				if id, _ := a.body["request_id"].(string); id == "" {
					t.Errorf("gateway body %s has no request_id", a.raw)
				}
			}
			if len(srv.Points()) != 0 {
				t.Error("points stored")
			}
		})
	}
}

func TestTamperedBodyFailsTheSignature(t *testing.T) {
	_, url := start(t, cesemu.Options{})
	req := signed(t, url, raw{body: body(t, item(nil))})
	tampered := body(t, item(map[string]any{"value": 13}))
	req.Body = io.NopCloser(strings.NewReader(tampered))
	req.ContentLength = int64(len(tampered))
	if a := send(t, req); a.status != 401 || a.code() != "APIGW.0301" {
		t.Errorf("answer %d %s, want 401 APIGW.0301", a.status, a.raw)
	}
}

func TestClockSkew(t *testing.T) {
	_, url := start(t, cesemu.Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if a := call(t, url, raw{body: body(t, item(nil))}); a.status != 401 || !strings.Contains(a.detail(), "15 minutes") {
		t.Errorf("answer %d %s, want 401 about the date", a.status, a.raw)
	}
}

func TestTooLargeForTheGateway(t *testing.T) {
	_, url := start(t, cesemu.Options{})
	big := "[" + strings.Repeat(" ", 9<<20) + "]"
	req, err := http.NewRequest(http.MethodPost, url+"/V1.0/"+cesemu.DefaultProject+"/metric-data", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if a := send(t, req); a.status != 413 || a.code() != "APIG.0201" {
		t.Errorf("answer %d %s, want 413 APIG.0201", a.status, a.raw)
	}
}

func TestFaults(t *testing.T) {
	srv, url := start(t, cesemu.Options{})
	srv.SetFaults(cesemu.Faults{Sequence: []int{429, 0, 500, 403, 404, 400, 502, 504, 503, 418}})
	want := []struct {
		status int
		code   string
	}{{429, "APIG.0308"}, {201, ""}, {500, "ces.0007"}, {403, "ces.0017"}, {404, "ces.0016"}, {400, "ces.0014"},
		{502, "APIG.0202"}, {504, "APIG.0203"}, {503, "ces.0007"}, {418, "ces.0011"}, {201, ""}}
	for i, w := range want {
		if a := call(t, url, raw{body: body(t, item(nil))}); a.status != w.status || a.code() != w.code {
			t.Errorf("call %d: %d %s, want %d %s", i, a.status, a.code(), w.status, w.code)
		}
	}
	if c := srv.Calls(); c.Total != len(want) || c.Status[201] != 2 || c.Status[429] != 1 || len(srv.Points()) != 2 {
		t.Errorf("calls %+v, %d points", c, len(srv.Points()))
	}
	// The sequence counts only calls past the gateway: a refused signature
	// does not take an entry.
	srv.SetFaults(cesemu.Faults{Sequence: []int{500}})
	bad := defaultCreds()
	bad.sk = "wrong"
	if a := call(t, url, raw{creds: bad, body: body(t, item(nil))}); a.status != 401 {
		t.Errorf("bad signature: %d", a.status)
	}
	if a := call(t, url, raw{body: body(t, item(nil))}); a.status != 500 {
		t.Errorf("after the bad signature: %d, want the sequence's 500", a.status)
	}
	// Unauthorized; Rate500 with a seed is repeatable.
	srv.SetFaults(cesemu.Faults{Unauthorized: true})
	if a := call(t, url, raw{body: body(t, item(nil))}); a.status != 401 || a.code() != "APIGW.0301" {
		t.Errorf("Unauthorized: %d %s", a.status, a.raw)
	}
	draws := func() string {
		srv.SetFaults(cesemu.Faults{Rate500: 0.5, Seed: 7})
		var b strings.Builder
		for range 20 {
			fmt.Fprint(&b, call(t, url, raw{body: body(t, item(nil))}).status, " ")
		}
		return b.String()
	}
	first := draws()
	if first != draws() || !strings.Contains(first, "500") || !strings.Contains(first, "201") {
		t.Errorf("Rate500 0.5 with a seed: %s (want repeatable, both answers)", first)
	}
	// DropRate 1: no answer at all.
	srv.SetFaults(cesemu.Faults{DropRate: 1})
	srv.Reset()
	if _, err := http.DefaultClient.Do(signed(t, url, raw{body: body(t, item(nil))})); err == nil {
		t.Error("DropRate 1: got an answer")
	}
	if c := srv.Calls(); c.Status[0] != 1 || len(srv.Points()) != 0 {
		t.Errorf("DropRate 1: calls %+v", c)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []cesemu.Options{{Projects: []string{"a/b"}}, {Projects: []string{""}}, {MaxItems: -1}} {
		if _, err := cesemu.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	srv, err := cesemu.New(cesemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(""); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(""); err == nil {
		t.Error("a second Listen succeeded")
	}
	if srv.URL() == "" {
		t.Error("no URL while listening")
	}
	srv.Close()
	if srv.URL() != "" || srv.Close() != nil {
		t.Error("Close left it listening")
	}
}
