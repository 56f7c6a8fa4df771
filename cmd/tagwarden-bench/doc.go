// Command tagwarden-bench measures tagwarden against the KMS emulator over
// loopback, through the real SDK, the huaweikms store and handler.Handle
// (the path the function takes), and prints the figures beside the bounds
// and baselines measured in the same run, as a table or, with -json, JSON.
//
// Measurements (-only picks some):
//
//   - calls: API calls of one sweep at each -keys count with -non-compliant
//     of the keys needing changes under the shipped policies, beside the
//     lower bound of the adapter's design (ListKeys pages + bulk tag
//     listing pages + one BatchCreateKmsTags per planned batch, the batches
//     counted by evaluating the seed with the engine) and beside the naive
//     per-key baseline (ListKeys pages + one ShowKmsTags per key + the
//     writes), measured up to -naive-max keys by hiding every key from the
//     bulk listing, computed above. A second sweep must write nothing.
//   - rate: one sweep of -rate-keys keys with the emulator enforcing -rate
//     requests per second (token bucket of -rate-burst) and adding
//     -rate-latency, the adapter's pacer at the same rate: wall time
//     beside calls/rate, and the 429s and failed keys.
//   - window: for each of -window-rates N (with -window-keys keys), one
//     sweep against the emulator counting as the live gateway does (N
//     calls in any sliding second, Faults.WindowLimit) with -rate-latency
//     added, through the adapter paced by huaweikms.NewPacer(N): the calls,
//     the share answered 429 (target < 1%) and the wall time beside
//     calls/N (target <= 1.05).
//   - org: organisation scale, through the function's invocation
//     pipeline (adapters/invocation) with invocation.Loopback as the
//     asynchronous platform, the real handler, huaweikms stores built per
//     target as cmd/bootstrap builds them (one pacer per target) and KMS
//     emulators behind a meter that counts each project's calls. Three
//     figures: a sweep of three targets in two regions (two emulators, the
//     first serving two projects), -org-keys keys each at -org-rate
//     requests per second per target, fanned out, from the fan-out's
//     dispatch to the last link's end, beside the slowest target's calls/N
//     (target <= 1.15) and the sum over targets; a sweep of
//     -org-chain-keys keys whose invocations each have time for
//     -org-chain-calls calls at -org-chain-rate (the deadline margin
//     -org-chain-margin), continuing itself link by link: it must finish
//     by itself, decide every key exactly once (counted from the handler's
//     one log entry per decision) and write each as planned, in at most the
//     single-invocation lower bound plus one listing page per link; and the
//     fan-out of -org-fanout targets through the FunctionGraph dispatcher
//     (the SDK's AsyncInvokeFunction over HTTP to
//     adapters/selfinvoke/fgasync), under 2 s.
//   - outputs: the run's outputs (stored reports in OBS, a notification
//     through SMN, Cloud Eye metrics) on the local services
//     (adapters/outputs/local), through the pipeline with
//     invocation.Loopback, the real handler and the KMS adapter on the
//     KMS emulator seeded with emulator.SampleKeys. Four figures: the
//     calls each service answered in a first and a next run of a sweep of
//     each -outputs-keys count, per run and per invocation, beside the
//     design's handful and the same run at the smallest count (they must
//     not grow with the keys), the wall time beside the same runs without
//     outputs; the calls of each link of a sweep of -outputs-chain-keys
//     keys cut into links by a report budget of
//     -outputs-chain-report-keys entries; the peak heap of two runs of a
//     sweep of -outputs-memory-keys keys (for each -outputs-person share
//     of them given a mistake only a person can fix) with the outputs on
//     and off, chained by the default report budget, the KMS emulator and
//     the output services in a child process (this binary with
//     -serve-outputs) and the links served one after another, against 64
//     MiB; and the notification of a run of -outputs-notify-keys keys that
//     all need a person: its size against SMN's 256 KiB (the local SMN
//     refuses more), the keys it lists and the "and N more" count, and
//     the time of the run's end.
//   - memory: peak heap of this process during a sweep of each
//     -memory-keys count, the emulator running in a child process (this
//     binary with -serve-emulator) so that only the sweep's side counts;
//     then each count again with every key compliant (an empty report), so
//     that flatness is judged both with the report and without it.
//   - lambda: builds cmd/bootstrap as packaged (the flags of function.zip.mk, docs/deploy.md), zips
//     it, and times cold start and warm invocations under the pinned Lambda
//     runtime interface emulator (cmd/internal/lambdarie, shared with
//     cmd/bootstrap's tests),
//     beside an empty echo function measured the same way.
//   - eval: rule evaluations per second per core of the shipped policies.
//
// It exits 1 when a measurement fails, 2 on bad flags; missed targets are
// reported in the table ("MISSED") and in the JSON verdicts, not in the exit
// status. docs/performance.md holds the results of a run and how to
// reproduce them.
package main
