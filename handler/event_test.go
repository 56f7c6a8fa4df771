package handler_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

// TestRequestEvents: a key event's keys are evaluated under the event that
// named each (Request.Events), other keys and sweeps under none, and an
// existing owner is never overwritten by the event's user.
func TestRequestEvents(t *testing.T) {
	engine, err := policy.Load(fstest.MapFS{"owner.yaml": {Data: []byte(`policies:
  - name: owner
    rules:
      - require: owner
        value: 'event.operation == "createKey" ? event.user.name ?? "unassigned" : "unassigned"'
`)}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	created := policy.Event{Operation: "createKey", UserName: "alice", UserID: "u-1", SourceIP: "192.0.2.10"}
	tagged := policy.Event{Operation: "deleteKeyTag", UserName: "bob"}
	for _, tc := range []struct {
		name string
		req  handler.Request
		want map[string]string // owner of each key after the request
	}{
		{"createKey: the creator", handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"new"}, Trigger: "cts",
			Events: map[string]policy.Event{"new": created}},
			map[string]string{"new": "alice", "bare": "", "owned": "team-a"}},
		{"a tag operation: the fallback", handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"new"}, Trigger: "cts",
			Events: map[string]policy.Event{"new": tagged}},
			map[string]string{"new": "unassigned", "bare": "", "owned": "team-a"}},
		{"each key its own event, or none", handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"new", "bare", "owned"}, Trigger: "eventgrid",
			Events: map[string]policy.Event{"new": created, "owned": created}},
			map[string]string{"new": "alice", "bare": "unassigned", "owned": "team-a"}},
		{"a manual check has no event", handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"new"}, Trigger: "manual"},
			map[string]string{"new": "unassigned", "bare": "", "owned": "team-a"}},
		{"a sweep sees no event, even if given one", handler.Request{Mode: handler.ModeSweep, Trigger: "timer",
			Events: map[string]policy.Event{"new": created}},
			map[string]string{"new": "unassigned", "bare": "unassigned", "owned": "team-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New(memstore.Options{})
			for _, id := range []string{"new", "bare", "owned"} {
				var tags map[string]string
				if id == "owned" {
					tags = map[string]string{"owner": "team-a"}
				}
				s.Put(policy.Key{ID: id, Alias: id, State: policy.StateEnabled}, tags)
			}
			log, _ := handlertest.JSONLogger(logrus.WarnLevel)
			h := handler.New(engine, handler.Config{ContinuationKey: testContinuationKey}, log)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if rep := h.Handle(ctx, s, tc.req); rep.Error != "" || rep.Failed != 0 {
				t.Fatalf("report %+v", rep)
			}
			got := map[string]string{}
			for id := range tc.want {
				tags, _ := s.TagsOf(id)
				got[id] = tags["owner"]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("owners (-want +got):\n%s", diff)
			}
		})
	}
}
