package e2e_test

// The "done when" tests of the handler: the real KMS adapter (huaweikms),
// through the official SDK, against the KMS emulator over HTTP.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/policy"
)

// checkNoSecrets scans the logs and the reports of a run for the AK, SK and
// security token the store signed with.
func checkNoSecrets(t *testing.T, logs *handlertest.LogBuffer, reps ...handler.Report) {
	t.Helper()
	out := logs.String()
	if out == "" {
		t.Fatal("no logs to scan")
	}
	for _, r := range reps {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out += string(b)
	}
	for _, secret := range []string{secretAK, secretSK, secretToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs or reports contain the credential %q", secret)
		}
	}
}

// checkFinal re-evaluates the final state with the engine: every key is
// compliant, or reported with the outcome that explains why it is not.
func checkFinal(t *testing.T, e *policy.Engine, state map[string]handler.Record, reported map[string]handler.KeyReport) {
	t.Helper()
	for id, rec := range state {
		d := e.Evaluate(rec.Key, rec.Tags, time.Now())
		if d.Compliant() {
			continue
		}
		kr, ok := reported[id]
		switch {
		case !ok:
			t.Errorf("key %s (%s) breaks %v and is not reported", id, rec.Key.Alias, d.Violations)
		case d.HasChanges() && kr.Outcome != handler.OutcomeFailed && kr.Outcome != handler.OutcomeSkipped:
			t.Errorf("key %s still needs %+v / %+v after outcome %s", id, d.Create, d.Delete, kr.Outcome)
		}
	}
}

func TestEmulatorSweep(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	seed := emulator.SampleKeys(n, 42)
	k := startKMS(t, seed)
	k.Server.HideFromBulk(seed[n-7].ResourceID) // one key only list-keys returns
	log, logs := handlertest.JSONLogger(logrus.TraceLevel)
	h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey, Concurrency: 4}, log)
	ctx := handler.WithRequestID(context.Background(), "emu-sweep")

	start := time.Now()
	dry := h.Handle(ctx, k.store(t, log), handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
	t.Logf("dry run of %d keys in %s: %s", n, time.Since(start), handlertest.Counts(dry))
	handlertest.CheckCounts(t, dry)
	if dry.Scanned != n || dry.Error != "" || dry.Continuation != "" || dry.Planned == 0 || dry.Skipped == 0 {
		t.Fatalf("dry run: %s", handlertest.Counts(dry))
	}
	if st := k.Server.Stats(); st.Writes+st.RejectedWrites != 0 || st.Calls["tags-action"] != 0 {
		t.Fatalf("dry run wrote: %+v", st)
	}
	// Mixed violations: tags to create, tags to delete, violations only a
	// report can carry, default keys.
	var creates, deletes int
	for _, kr := range dry.Keys {
		creates += len(kr.Create)
		deletes += len(kr.Delete)
	}
	if creates == 0 || deletes == 0 || dry.Violating == 0 {
		t.Errorf("the sample is not mixed: %d tags to create, %d to delete, %d keys violating", creates, deletes, dry.Violating)
	}
	// The plan applied to the seed is the state the real run must leave.
	want := map[string]map[string]string{}
	for _, sk := range seed {
		tags := map[string]string{}
		for _, tg := range sk.Tags {
			tags[tg.Key] = tg.Value
		}
		want[sk.ResourceID] = tags
	}
	for _, kr := range dry.Keys {
		for _, tg := range kr.Delete {
			delete(want[kr.KeyID], tg.Key)
		}
		for _, tg := range kr.Create {
			want[kr.KeyID][tg.Key] = tg.Value
		}
	}

	start = time.Now()
	real := h.Handle(ctx, k.store(t, log), handler.Request{Mode: handler.ModeSweep})
	t.Logf("sweep of %d keys in %s: %s", n, time.Since(start), handlertest.Counts(real))
	handlertest.CheckCounts(t, real)
	if real.Scanned != n || real.Error != "" || real.Failed != 0 || real.Changed != dry.Planned {
		t.Errorf("sweep: %s, want changed = planned %d", handlertest.Counts(real), dry.Planned)
	}
	// The plan of the dry run is what the real run wrote, key by key.
	plan := handlertest.ByID(dry.Keys)
	batches := 0
	for _, kr := range real.Keys {
		p := plan[kr.KeyID]
		if p.Outcome == handler.OutcomePlanned {
			p.Outcome = handler.OutcomeChanged
		}
		if diff := cmp.Diff(p, kr); diff != "" {
			t.Errorf("key %s: plan differs from what was written (-plan +real):\n%s", kr.KeyID, diff)
		}
		batches += len(policy.Decision{Create: kr.Create, Delete: kr.Delete}.Batches(shipped(t).Limits().MaxBatch))
	}
	if len(real.Keys) != len(dry.Keys) {
		t.Errorf("sweep reports %d keys, the dry run %d", len(real.Keys), len(dry.Keys))
	}
	if st := k.Server.Stats(); st.Writes != batches || st.RejectedWrites != 0 {
		t.Errorf("emulator saw %d writes (%d rejected), want %d", st.Writes, st.RejectedWrites, batches)
	}
	// What was written is exactly the dry run's plan, on every key.
	for id, tags := range want {
		got, ok := k.Server.Tags(emulator.DefaultProject, id)
		if !ok {
			t.Errorf("key %s is gone", id)
			continue
		}
		if got == nil {
			got = map[string]string{}
		}
		if diff := cmp.Diff(tags, got); diff != "" {
			t.Errorf("key %s: tags after the sweep differ from the seed plus the dry run's plan (-plan +written):\n%s", id, diff)
		}
	}
	checkFinal(t, shipped(t), k.finalState(t), handlertest.ByID(real.Keys))

	k.Server.ResetStats()
	again := h.Handle(ctx, k.store(t, log), handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, again)
	if st := k.Server.Stats(); st.Writes+st.RejectedWrites != 0 || again.Changed != 0 || again.Scanned != n {
		t.Errorf("second sweep: %s; emulator writes %d", handlertest.Counts(again), st.Writes+st.RejectedWrites)
	}

	checkNoSecrets(t, logs, dry, real, again)
	dec := logs.KeyDecisions(t)
	if len(dec) != n {
		t.Errorf("%d keys have decision entries, want %d", len(dec), n)
	}
	for id, c := range dec {
		if c != 3 {
			t.Errorf("key %s: %d decision entries over 3 runs, want 3", id, c)
		}
	}
}

func TestEmulatorResumedSweep(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 250
	}
	seed := emulator.SampleKeys(n, 7)
	uncutKMS, cutKMS := startKMS(t, seed), startKMS(t, seed)
	var hidden []string
	for i := 0; i < n; i += 50 { // keys the bulk listing leaves out: phase two of the listing
		hidden = append(hidden, seed[i].ResourceID)
	}
	uncutKMS.Server.HideFromBulk(hidden...)
	cutKMS.Server.HideFromBulk(hidden...)

	uh := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey}, nil)
	uncut := uh.Handle(context.Background(), uncutKMS.store(t, nil), handler.Request{Mode: handler.ModeSweep})
	if uncut.Continuation != "" || uncut.Scanned != n || uncut.Error != "" {
		t.Fatalf("uncut: %s", handlertest.Counts(uncut))
	}

	// Every call takes 20ms; an invocation has 150ms, minus a 30ms margin:
	// a few listing calls and a round of writes by 4 workers at most, so
	// writes in flight are often cut, their outcome unknown.
	cutKMS.Server.SetFaults(emulator.Faults{Latency: 20 * time.Millisecond})
	log, logs := handlertest.JSONLogger(logrus.TraceLevel)
	h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey, Margin: 30 * time.Millisecond}, log)
	var reps []handler.Report
	req := handler.Request{Mode: handler.ModeSweep}
	window := 150 * time.Millisecond
	for i := 0; ; i++ {
		if i > 400 {
			t.Fatal("no end after 400 resumptions")
		}
		ctx, cancel := context.WithTimeout(context.Background(), window)
		rep := h.Handle(ctx, cutKMS.store(t, log), req) // a new store per invocation, as in the function
		cancel()
		handlertest.CheckCounts(t, rep)
		// On a loaded machine an invocation may spend its whole window
		// listing; it then says so, hands back no continuation, and the
		// same request goes again with more time.
		if rep.ErrorKind == handler.KindNoTime {
			if rep.Continuation != "" || rep.Scanned != 0 {
				t.Fatalf("resumption %d: no time to work, yet %s", i, handlertest.Counts(rep))
			}
			window *= 2
			continue
		}
		window = 150 * time.Millisecond
		if rep.Error != "" {
			t.Fatalf("resumption %d: %s", i, rep.Error)
		}
		reps = append(reps, rep)
		if rep.Continuation == "" {
			break
		}
		req.Continuation = rep.Continuation
	}
	t.Logf("%d keys in %d invocations", n, len(reps))
	if len(reps) < 3 {
		t.Errorf("the sweep was cut %d times, want several", len(reps)-1)
	}
	var keys []handler.KeyReport
	scanned := 0
	for _, r := range reps {
		keys = append(keys, r.Keys...)
		scanned += r.Scanned
	}
	if scanned != n || len(keys) != len(uncut.Keys) {
		t.Errorf("resumed: %d scanned, %d reported; uncut: %d, %d", scanned, len(keys), n, len(uncut.Keys))
	}
	if diff := cmp.Diff(handlertest.ByID(uncut.Keys), handlertest.ByID(keys)); diff != "" {
		t.Errorf("resumed reports differ from the uncut one (-uncut +resumed):\n%s", diff)
	}
	for _, s := range seed {
		if c := logs.KeyDecisions(t)[s.ResourceID]; c != 1 {
			t.Errorf("key %s processed %d times, want once", s.ResourceID, c)
		}
	}
	if diff := cmp.Diff(uncutKMS.Server.Keys(""), cutKMS.Server.Keys("")); diff != "" {
		t.Errorf("final state (-uncut +resumed):\n%s", diff)
	}
}

// deletingStore deletes a key in the emulator right after the listing
// returns it: the key is deleted mid-sweep.
type deletingStore struct {
	handler.KeyStore
	k  *kms
	id string
}

type deletingLister struct {
	handler.Lister
	s *deletingStore
}

func (d *deletingStore) List(ctx context.Context, cursor string) handler.Lister {
	return deletingLister{d.KeyStore.List(ctx, cursor), d}
}

func (l deletingLister) Next(ctx context.Context) (handler.Page, error) {
	p, err := l.Lister.Next(ctx)
	for _, r := range p.Records {
		if r.Key.ID == l.s.id {
			l.s.k.Server.DeleteKey("", l.s.id)
		}
	}
	return p, err
}

func TestEmulatorFailingKeys(t *testing.T) {
	const n = 300
	seed := emulator.SampleKeys(n, 3)
	k := startKMS(t, seed)
	log, logs := handlertest.JSONLogger(logrus.TraceLevel)
	h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey}, log)

	dry := h.Handle(context.Background(), k.store(t, log), handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
	var planned []string
	for _, kr := range dry.Keys {
		if kr.Outcome == handler.OutcomePlanned {
			planned = append(planned, kr.KeyID)
		}
	}
	if len(planned) < 10 {
		t.Fatalf("only %d keys need changes", len(planned))
	}
	failing, deleted := planned[2], planned[5]
	k.Server.SetFaults(emulator.Faults{FailKeys: map[string]int{failing: 500}})
	rep := h.Handle(context.Background(), &deletingStore{KeyStore: k.store(t, log), k: k, id: deleted}, handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, rep)
	checkNoSecrets(t, logs, dry, rep)
	got := handlertest.ByID(rep.Keys)
	if kr := got[failing]; kr.Outcome != handler.OutcomeFailed || kr.Error == "" {
		t.Errorf("key answering 500: %+v, want failed with the error", kr)
	} else {
		t.Logf("failed key's error: %s", kr.Error)
	}
	if kr := got[deleted]; kr.Outcome != handler.OutcomeSkipped || kr.Reason != "key not found: deleted during the run" {
		t.Errorf("key deleted mid-sweep: %+v", kr)
	}
	if rep.Failed != 1 || rep.Skipped != dry.Skipped+1 || rep.Changed != dry.Planned-2 || rep.Scanned != n || rep.Error != "" {
		t.Errorf("sweep: %s; dry run: %s", handlertest.Counts(rep), handlertest.Counts(dry))
	}
	k.Server.SetFaults(emulator.Faults{})
	state := k.finalState(t)
	delete(got, failing) // reported failed: its changes are still due
	for id, rec := range state {
		if id == failing {
			continue
		}
		if d := shipped(t).Evaluate(rec.Key, rec.Tags, time.Now()); d.HasChanges() && got[id].Outcome != handler.OutcomeSkipped {
			t.Errorf("key %s still needs changes", id)
		}
	}
}

func TestEmulatorKeyEvents(t *testing.T) {
	seed := emulator.SampleKeys(40, 5)
	var defaultKey emulator.SeedKey
	for _, s := range seed {
		if s.ResourceDetail.DefaultKeyFlag == "1" {
			defaultKey = s
			break
		}
	}
	newKey := emulator.SeedKey{ResourceID: "5b0f4c1e-1111-4222-8333-944455556666", ResourceDetail: emulator.KeyDetails{
		KeyID: "5b0f4c1e-1111-4222-8333-944455556666", KeyAlias: "prod-orders-new", KeySpec: "AES_256",
		KeyUsage: "ENCRYPT_DECRYPT", KeyState: "2", DefaultKeyFlag: "0", CreationDate: "1767225600000",
	}}
	const missing = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name    string
		ids     []string
		faults  emulator.Faults
		want    handler.KeyReport
		wantErr string
	}{
		{name: "default key", ids: []string{defaultKey.ResourceID}, want: handler.KeyReport{
			KeyID: defaultKey.ResourceID, Alias: defaultKey.ResourceDetail.KeyAlias, Outcome: handler.OutcomeSkipped,
			Reason: "default key: a service's default key cannot be tagged"}},
		{name: "missing key", ids: []string{missing}, want: handler.KeyReport{
			KeyID: missing, Outcome: handler.OutcomeSkipped, Reason: "key not found after 3 reads: deleted, or not visible yet"}},
		{name: "new untagged key", ids: []string{newKey.ResourceID}, want: handler.KeyReport{
			KeyID: newKey.ResourceID, Alias: "prod-orders-new", Outcome: handler.OutcomeChanged,
			Create: []policy.Tag{{Key: "cost-center", Value: "cc-unknown"}, {Key: "env", Value: "prod"}, {Key: "owner", Value: "unassigned"}}}},
		{name: "expired credentials", ids: []string{newKey.ResourceID}, faults: emulator.Faults{Unauthorized: true},
			wantErr: "access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := startKMS(t, seed)
			k.Server.AddKey("", newKey)
			k.Server.SetFaults(tt.faults)
			log, logs := handlertest.JSONLogger(logrus.TraceLevel)
			h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey, KeyRetries: 2, KeyRetryDelay: 5 * time.Millisecond}, log)
			rep := h.Handle(context.Background(), k.store(t, log), handler.Request{Mode: handler.ModeKeys, KeyIDs: tt.ids, Trigger: "cts"})
			handlertest.CheckCounts(t, rep)
			checkNoSecrets(t, logs, rep)
			if tt.wantErr != "" {
				// A key event's report is read by nobody: the key is
				// reported failed with the reason, not left in a
				// continuation.
				if !strings.Contains(rep.Error, tt.wantErr) || rep.ErrorKind != handler.KindDenied || rep.Continuation != "" ||
					rep.Failed != 1 || len(rep.Keys) != 1 || !strings.Contains(rep.Keys[0].Error, "authentication failed") {
					t.Fatalf("got %s %+v, want error %q, the key failed and no continuation", handlertest.Counts(rep), rep.Keys, tt.wantErr)
				}
				k.Server.SetFaults(emulator.Faults{})
				next := h.Handle(context.Background(), k.store(t, nil), handler.Request{Mode: handler.ModeKeys, KeyIDs: tt.ids, Trigger: "cts"})
				if next.Changed != 1 || next.Continuation != "" {
					t.Errorf("the event again with fresh credentials: %s", handlertest.Counts(next))
				}
				return
			}
			if len(rep.Keys) != 1 || rep.Error != "" {
				t.Fatalf("got %s", handlertest.Counts(rep))
			}
			got := rep.Keys[0]
			got.Violations = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("key report (-want +got):\n%s", diff)
			}
		})
	}
}
