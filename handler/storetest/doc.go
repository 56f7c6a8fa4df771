// Package storetest is a conformance suite for handler.KeyStore
// implementations: run it against every store (the KMS adapter over the
// emulator, the in-memory store) so that they all keep the same contract.
//
// The contract checked by Run:
//   - a listing from "" yields every key exactly once, across more than one
//     page when there are more than 1000 keys; a record's Tags are the key's
//     tags, or nil (unknown), in which case KeyStore.Tags returns them;
//   - List(ctx, page.Cursor) yields that page again first, then the rest of
//     the listing, each key exactly once, for every page's cursor;
//   - Key and Tags read fresh state; unknown or deleted keys give
//     handler.ErrNotFound from Key, Tags and Apply;
//   - Apply creates, overwrites and deletes tags; deleting a missing tag is
//     done; a default key gives handler.ErrDefaultKey; a tag breaking the API
//     rules, too many tags in one call or on one key give handler.ErrInvalid,
//     and a refused call changes nothing;
//   - with a cancelled context, List, Key, Tags and Apply fail with an error
//     that unwraps to context.Canceled, and nothing is written.
package storetest
