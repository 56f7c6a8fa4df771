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
