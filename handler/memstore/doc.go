// Package memstore is an in-memory handler.KeyStore for tests and local
// runs. It is strict like the KMS API: tag keys and values are checked
// against policy.Limits and the API's forbidden characters, a key holds at
// most Limits.MaxTags tags, a batch carries at most Limits.MaxBatch tags
// with no duplicate keys, default keys refuse writes (handler.ErrDefaultKey)
// and missing keys answer handler.ErrNotFound.
//
// Listings are sorted by key id and paged; a page's Cursor resumes at the
// first id of that page, so a listing survives keys being added or deleted
// between invocations. Hook injects failures that a real store cannot be
// made to produce on demand (a panic, a delay on one call, an error of a
// given kind on one key).
package memstore
