package localsvc_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

func TestListener(t *testing.T) {
	l := &localsvc.Listener{Name: "test service"}
	if u := l.URL(); u != "" {
		t.Fatalf("URL before Listen = %q", u)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close before Listen: %v", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
	u, err := l.Listen("", h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") || l.URL() != u {
		t.Fatalf("Listen = %q, URL = %q", u, l.URL())
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body %q", body)
	}
	if _, err := l.Listen("", h); err == nil || err.Error() != "test service is already listening" {
		t.Errorf("second Listen: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.URL() != "" {
		t.Errorf("URL after Close = %q", l.URL())
	}
	if _, err := http.Get(u); err == nil {
		t.Error("served after Close")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	u2, err := l.Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	defer l.Close()
	if _, err := (&localsvc.Listener{}).Listen(strings.TrimPrefix(u2, "http://"), h); err == nil || !strings.Contains(err.Error(), "listen on 127.0.0.1:") {
		t.Errorf("Listen on a busy port: %v", err)
	}
}

func TestRequestIDs(t *testing.T) {
	var a, b localsvc.RequestIDs
	form := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				id := a.Next()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
				if !form.MatchString(id) {
					t.Errorf("id %q", id)
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != 800 {
		t.Errorf("%d distinct ids of 800", len(seen))
	}
	x, y := a.Next(), b.Next()
	if x[:16] == y[:16] {
		t.Errorf("two services share the base: %s, %s", x, y)
	}
	if x[:16] != a.Next()[:16] {
		t.Error("the base changed")
	}
}

func TestFaultStateDraw(t *testing.T) {
	draws := func(fs *localsvc.FaultState, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = fs.Draw()
		}
		return out
	}
	count := func(xs []int, v int) int {
		n := 0
		for _, x := range xs {
			if x == v {
				n++
			}
		}
		return n
	}
	if got := draws(localsvc.NewFaultState(localsvc.Faults{}), 50); count(got, 0) != 50 {
		t.Errorf("the zero faults drew %v", got)
	}
	if got := draws(localsvc.NewFaultState(localsvc.Faults{DropRate: 1}), 20); count(got, localsvc.Drop) != 20 {
		t.Errorf("DropRate 1 drew %v", got)
	}
	if got := draws(localsvc.NewFaultState(localsvc.Faults{Rate500: 1}), 20); count(got, 500) != 20 {
		t.Errorf("Rate500 1 drew %v", got)
	}
	if got := draws(localsvc.NewFaultState(localsvc.Faults{}, localsvc.Rate{Status: 503, P: 1}), 20); count(got, 503) != 20 {
		t.Errorf("a further rate of 1 drew %v", got)
	}
	f := localsvc.Faults{DropRate: 0.2, Rate500: 0.3, Seed: 7}
	more := localsvc.Rate{Status: 503, P: 0.3}
	a := draws(localsvc.NewFaultState(f, more), 2000)
	if b := draws(localsvc.NewFaultState(f, more), 2000); !slices.Equal(a, b) {
		t.Error("the same Seed drew differently")
	}
	for _, c := range []struct{ v, share int }{{localsvc.Drop, 20}, {500, 30}, {503, 30}, {0, 20}} {
		if n := count(a, c.v); n < 2000*c.share/100-150 || n > 2000*c.share/100+150 {
			t.Errorf("%d draws of %d in 2000, want about %d%%", n, c.v, c.share)
		}
	}
}

func TestFaultStateNext(t *testing.T) {
	seq := []int{429, 0, 502}
	fs := localsvc.NewFaultState(localsvc.Faults{Sequence: seq})
	seq[0] = 418 // the state keeps its own copy
	var got []int
	for range 5 {
		got = append(got, fs.Next())
	}
	if want := []int{429, 0, 502, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
}

func TestInjector(t *testing.T) {
	var in localsvc.Injector
	fs := in.Load()
	if fs.Draw() != 0 || fs.Next() != 0 || fs.Latency != 0 || fs.Unauthorized {
		t.Error("the zero Injector injects")
	}
	in.Set(localsvc.Faults{Sequence: []int{500}, Unauthorized: true})
	if fs := in.Load(); !fs.Unauthorized || fs.Next() != 500 || fs.Next() != 0 {
		t.Error("Set did not take")
	}
	in.Set(localsvc.Faults{Sequence: []int{500}})
	if in.Load().Next() != 500 {
		t.Error("Set did not start the Sequence again")
	}
}

func TestDelay(t *testing.T) {
	if !localsvc.Delay(context.Background(), 0) || !localsvc.Delay(context.Background(), time.Millisecond) {
		t.Error("Delay with a live context returned false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if localsvc.Delay(ctx, time.Minute) {
		t.Error("Delay with an ended context returned true")
	}
	if time.Since(start) > 10*time.Second {
		t.Error("Delay waited past its context")
	}
}

func TestDropConn(t *testing.T) {
	called := false
	if localsvc.DropConn(httptest.NewRecorder(), func() { called = true }) || called {
		t.Error("a recorder was dropped")
	}
	dropped := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := 0
		ok := localsvc.DropConn(w, func() { n++ })
		dropped <- ok && n == 1
	}))
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Error("an answer to a dropped call")
	}
	if !<-dropped {
		t.Error("DropConn did not drop, or did not call dropped once")
	}
}

func TestSignedHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := localsvc.SignedHeaders(r); got != nil {
		t.Errorf("no Authorization: %q", got)
	}
	r.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-project-id;x-sdk-date, Signature=abc")
	if got, want := localsvc.SignedHeaders(r), []string{"host", "x-project-id", "x-sdk-date"}; !slices.Equal(got, want) {
		t.Errorf("SignedHeaders = %q, want %q", got, want)
	}
}

func TestGateway(t *testing.T) {
	got := localsvc.Gateway(localsvc.AuthCode, localsvc.AuthMessage+"why", "rid")
	want := map[string]string{"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: why", "request_id": "rid"}
	if !maps.Equal(got, want) {
		t.Errorf("Gateway = %v, want %v", got, want)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	localsvc.WriteJSON(w, http.StatusCreated, map[string]string{"a": "b"}, `{"fallback":true}`)
	if w.Code != 201 || w.Body.String() != `{"a":"b"}` || w.Header().Get("Content-Type") != "application/json;charset=UTF-8" || w.Header().Get("Content-Length") != "9" {
		t.Errorf("WriteJSON answered %d %q %v", w.Code, w.Body, w.Header())
	}
	w = httptest.NewRecorder()
	localsvc.WriteJSON(w, http.StatusOK, func() {}, `{"fallback":true}`)
	if w.Code != 500 || w.Body.String() != `{"fallback":true}` || w.Header().Get("Content-Length") != "17" {
		t.Errorf("WriteJSON of what does not encode answered %d %q %v", w.Code, w.Body, w.Header())
	}
}
