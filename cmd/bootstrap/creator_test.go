package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// TestFunctionGraphCreator runs the real bootstrap with the shipped
// policies (embedded: no TAGWARDEN_POLICIES) under the FunctionGraph
// runtime API: a CTS createKey event makes the trace's user the new key's
// owner; the next timer sweep gives keys without an owner "unassigned" and
// leaves every existing owner, the creator included, alone.
func TestFunctionGraphCreator(t *testing.T) {
	const ak, sk, token = "FGTEMPORARYAK0000002", "fg-temporary-secret-key-0000000000000002", "fg-security-token-0002"
	kms, kmsURL := newEmulator(t, ak, sk, token)
	kms.AddKey(emulator.DefaultProject, seedKey(keyCreated, "orders-db", nil))
	api, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	p := start(t, t.TempDir(), map[string]string{
		"RUNTIME_API_ADDR":       api.Addr(),
		"RUNTIME_TIMEOUT":        "60",
		"RUNTIME_PROJECT_ID":     emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT": kmsURL,
	}, bootstrapBinary(t))
	creds := header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk, "X-CFF-Security-Token", token)
	invoke := func(id, payload string) handler.Report {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := api.Invoke(ctx, runtimetest.Event{RequestID: id, Header: creds, Payload: []byte(payload)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Error {
			t.Fatalf("%s: error response %s", id, res.Body)
		}
		return asReport(t, res.Body)
	}

	// The fixture is a createKey trace by user "alice".
	rep := invoke("fg-creator-1", eventFixture(t, "cts-create-key.json"))
	if rep.Mode != handler.ModeKeys || rep.Changed != 1 || len(rep.Keys) != 1 ||
		!slices.Contains(rep.Keys[0].Create, policy.Tag{Key: "owner", Value: "alice"}) {
		t.Errorf("createKey: got %+v, want the new key changed with owner=alice", rep)
	}
	if got := tagsOf(t, kms, keyCreated)["owner"]; got != "alice" {
		t.Errorf("the created key's owner is %q, want alice (the trace's user)", got)
	}
	if got := tagsOf(t, kms, keyUntagged); len(got) != 0 {
		t.Errorf("another key got tags %v from a key event", got)
	}

	rep = invoke("fg-creator-2", eventFixture(t, "timer.json"))
	if rep.Mode != handler.ModeSweep || rep.Error != "" {
		t.Fatalf("sweep: got %+v", rep)
	}
	for id, want := range map[string]string{keyCreated: "alice", keyOwned: "team-a", keyNoOwner: "unassigned", keyUntagged: "unassigned"} {
		if got := tagsOf(t, kms, id)["owner"]; got != want {
			t.Errorf("after the sweep key %s has owner %q, want %q", id, got, want)
		}
	}
	if err := p.stop(); err != nil {
		t.Errorf("bootstrap exited with %v after SIGTERM, want status 0", err)
	}
}
