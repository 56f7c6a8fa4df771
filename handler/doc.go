// Package handler is tagwarden's platform-neutral core: it turns one Request
// (a sweep of every key, or named keys from a key event or a manual call)
// into evaluated, remediated keys and a Report.
//
// It depends only on the policy engine and on the KeyStore interface, which
// the KMS adapter implements; it never sees a platform event or an SDK type.
//
// Contracts of Handle:
//   - It never panics and always returns a Report. A request-wide problem
//     (bad mode, invalid continuation, listing error, access denied) is in
//     Report.Error; a key's problem is in that key's KeyReport, and never
//     stops the other keys.
//   - Sweeps stream the listing a page at a time and process records with
//     Config.Concurrency workers; the report keeps only keys that were not
//     compliant and the handler keeps no set of the ids it has seen, so
//     memory stays flat as the key count grows. A record a listing repeats
//     on the same page or the next one (an offset page shifted by a key
//     created mid-listing) is processed once.
//   - Keys are read fresh for key requests; a key not found yet or pending
//     activation is retried with doubling waits (Config.KeyRetries,
//     KeyRetryDelay, KeyRetryMaxDelay), then reported skipped with the reason.
//     Default keys and keys pending deletion are skipped with a reason.
//   - Changes are applied as policy.Decision.Batches: deletes, then creates.
//     A dry run writes nothing and reports each key's planned changes with
//     outcome "planned", exactly as a real run reports them as "changed".
//   - Config.Margin before ctx's deadline, no new key is started; keys in
//     flight finish and the report carries a Continuation. Store calls
//     still running Config.Margin/2 before the deadline are cancelled, so
//     that the report is returned in time. A key whose
//     processing was interrupted (ctx cancelled, or access denied, which
//     stops all new work) is put in the continuation, not reported. When
//     its tag writes were cut in flight (they may or may not have landed),
//     the continuation also keeps the values those writes were changing;
//     the resumed request reads the key fresh and, if the writes landed,
//     reports the change as the uncut request would have. Resuming
//     with each report's continuation until there is none covers every key
//     exactly once, as long as the listing order is stable. A key request
//     resumed with a continuation processes the token's remaining ids and
//     ignores Request.KeyIDs.
//   - Config.OnKey, when set, is called once per key given an outcome, from
//     the worker goroutines (for a progress display); Config.OnDecision,
//     when set, once per key evaluated, with the key, the tags and the
//     decision its outcome rests on (for saved plans and previews).
//
// Continuation tokens are base64url JSON, versioned, bound to the request's
// mode and dry-run flag; a malformed or mismatched token is refused with
// Report.Error "invalid continuation: ...".
package handler
