package handler_test

import (
	"context"
	"testing"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

// TestGraceAndExemptions: a key in a grace period gets only the due tag,
// its violation names the due date, and a second sweep writes nothing; a
// compliant key an exemption entry names is listed with the entry.
func TestGraceAndExemptions(t *testing.T) {
	e, err := policy.LoadDir("testdata/grace", policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New(memstore.Options{})
	for _, id := range []string{"k-new", "k-ok", "k-exempt"} {
		tags := map[string]string{"owner": "team-a"}
		if id != "k-ok" {
			tags = nil
		}
		s.Put(policy.Key{ID: id, Alias: "alias-" + id, State: policy.StateEnabled}, tags)
	}
	h := handler.New(e, handler.Config{Concurrency: 2}, nil)
	byID := func(rep handler.Report) map[string]handler.KeyReport {
		out := map[string]handler.KeyReport{}
		for _, k := range rep.Keys {
			out[k.KeyID] = k
		}
		return out
	}
	first := byID(h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep}))
	if len(first) != 2 {
		t.Fatalf("got entries %v, want k-new and k-exempt", first)
	}
	kn := first["k-new"]
	if kn.Outcome != handler.OutcomeChanged || len(kn.Create) != 1 || kn.Create[0].Key != policy.DueTag || len(kn.Violations) != 1 || kn.Violations[0].Due == "" || kn.Violations[0].Remediated {
		t.Errorf("k-new: got %+v, want only the due tag written and a violation with its due date", kn)
	}
	kx := first["k-exempt"]
	if kx.Outcome != handler.OutcomeCompliant || len(kx.Exemptions) != 1 || kx.Exemptions[0].Entry != "exemptions.yaml:2" || kx.Exemptions[0].Reason != "vendor-managed" {
		t.Errorf("k-exempt: got %+v, want compliant and listed with its entry", kx)
	}
	second := byID(h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep}))
	if kn := second["k-new"]; kn.Outcome != handler.OutcomeViolation || kn.Create != nil || kn.Delete != nil || kn.Violations[0].Due != first["k-new"].Violations[0].Due {
		t.Errorf("second sweep, k-new: got %+v, want no write and the same due date", kn)
	}
}
