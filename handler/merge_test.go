package handler_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
)

func TestReportMerge(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	first := handler.Report{
		RequestID: "req-1", Mode: handler.ModeSweep, Trigger: "cli", DryRun: true,
		Started: t0, Finished: t0.Add(time.Second),
		Scanned: 6, Compliant: 1, Changed: 0, Planned: 2, Violating: 1, Failed: 1, Skipped: 1,
		Keys:         []handler.KeyReport{{KeyID: "a", Outcome: handler.OutcomePlanned}},
		Deferred:     2,
		Continuation: "token-1",
		Reason:       "report full",
	}
	tests := []struct {
		name string
		next handler.Report
		want func(*handler.Report)
	}{
		{
			name: "the last of a chain",
			next: handler.Report{RequestID: "req-2", Mode: handler.ModeKeys, Trigger: "other", Started: t0.Add(time.Minute), Finished: t0.Add(2 * time.Minute),
				Scanned: 21, Compliant: 10, Changed: 1, Planned: 3, Violating: 4, Failed: 2, Skipped: 1,
				Keys: []handler.KeyReport{{KeyID: "b", Outcome: handler.OutcomeFailed}, {KeyID: "c", Outcome: handler.OutcomeSkipped}}},
			want: func(r *handler.Report) {
				r.Finished = t0.Add(2 * time.Minute)
				r.Scanned, r.Compliant, r.Changed, r.Planned, r.Violating, r.Failed, r.Skipped = 27, 11, 1, 5, 5, 3, 2
				r.Keys = append(r.Keys, handler.KeyReport{KeyID: "b", Outcome: handler.OutcomeFailed}, handler.KeyReport{KeyID: "c", Outcome: handler.OutcomeSkipped})
				r.Deferred, r.Continuation = 0, "" // the keys deferred are reported by next
			},
		},
		{
			name: "cut again, with an error",
			next: handler.Report{Finished: t0.Add(3 * time.Minute), Scanned: 1, Changed: 1, Deferred: 1, Continuation: "token-2",
				Reason: "access denied", Error: "access denied by KMS", ErrorKind: handler.KindDenied},
			want: func(r *handler.Report) {
				r.Finished = t0.Add(3 * time.Minute)
				r.Scanned, r.Changed = 7, 1
				r.Deferred, r.Continuation = 1, "token-2"
				r.Reason, r.Error, r.ErrorKind = "access denied", "access denied by KMS", handler.KindDenied
			},
		},
		{
			name: "an empty report keeps the reason",
			next: handler.Report{Finished: t0.Add(time.Hour)},
			want: func(r *handler.Report) {
				r.Finished = t0.Add(time.Hour)
				r.Deferred, r.Continuation = 0, ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := first
			got.Keys = append([]handler.KeyReport(nil), first.Keys...)
			got.Merge(tt.next)
			want := first
			want.Keys = append([]handler.KeyReport(nil), first.Keys...)
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("merged report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReportMergeKeepsError: an error of an earlier report stays when the
// next has none.
func TestReportMergeKeepsError(t *testing.T) {
	r := handler.Report{Error: "listing failed", ErrorKind: handler.KindListing}
	r.Merge(handler.Report{Scanned: 1})
	if r.Error != "listing failed" || r.ErrorKind != handler.KindListing || r.Scanned != 1 {
		t.Errorf("got error %q (%s), scanned %d; want the first report's error kept and 1 scanned", r.Error, r.ErrorKind, r.Scanned)
	}
}
