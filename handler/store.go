package handler

import (
	"context"
	"errors"

	"github.com/tagwarden/tagwarden/policy"
)

// Error kinds a KeyStore returns, wrapped with context; test with errors.Is.
var (
	// ErrNotFound: the key does not exist (or is not visible yet).
	ErrNotFound = errors.New("not found")
	// ErrDefaultKey: the key is a service's default key, which cannot be tagged.
	ErrDefaultKey = errors.New("default key")
	// ErrInvalid: the request was rejected as malformed (a bug or a tag the API refuses).
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: authentication or authorisation failed (wrong or expired credentials, no permission).
	ErrDenied = errors.New("access denied")
	// ErrThrottled: the API's rate limit was hit and retries were exhausted.
	ErrThrottled = errors.New("throttled")
	// ErrTransient: a server or network fault that outlived the retries or the deadline.
	ErrTransient = errors.New("transient failure")
)

// Record is one key with its tags as listed.
type Record struct {
	Key policy.Key
	// Tags holds the key's current tags. Nil means unknown (the bulk tag
	// listing did not return this key): call KeyStore.Tags before acting on it.
	// A non-nil empty map means the key has no tags.
	Tags map[string]string
}

// Page is one page of a listing.
type Page struct {
	Records []Record
	// Cursor resumes a listing at the start of this page: List(ctx, Cursor)
	// yields this page again first. It is opaque and safe to put in a token.
	Cursor string
	// After returns a cursor that resumes the listing right after the first
	// n records of this page (0 <= n <= len(Records); n == 0 is Cursor):
	// the records a resumed listing yields are exactly those that a listing
	// run on from here would have yielded after them, whatever was written
	// to the keys already yielded. The store, not the caller, resumes inside
	// a page, because only the store knows how its pages are made (a page
	// read again may be filtered differently). Nil only on an empty page.
	After func(n int) string
	// Inexact is set on the first page of a resumed listing when the store
	// could not find exactly where it had stopped (the keys around the
	// position were added or removed beyond what it can trace): records
	// near the position may be skipped or listed again. The handler says
	// so in the report of this and every later link of the sweep.
	Inexact bool
}

// Lister walks every key of a project exactly once, a page at a time.
type Lister interface {
	// Next returns the next page, or io.EOF when the listing is complete.
	// Errors are of the kinds above.
	Next(ctx context.Context) (Page, error)
}

// KeyStore is what the handler needs from KMS, in domain terms. Every method
// honours ctx's deadline and returns errors of the kinds above.
type KeyStore interface {
	// Scope names the set of keys the store manages, for instance the
	// endpoint and project of a KMS. A continuation is bound to it: a
	// token issued for one scope is refused in another.
	Scope() string
	// List starts a listing of every key of the project at cursor ("" = the start).
	List(ctx context.Context, cursor string) Lister
	// Key reads one key and its tags fresh. ErrNotFound if it does not exist.
	Key(ctx context.Context, id string) (Record, error)
	// Tags reads the current tags of one key. ErrNotFound if it does not exist.
	Tags(ctx context.Context, id string) (map[string]string, error)
	// Apply makes one BatchCreateKmsTags call. Deleting a tag that is already
	// gone counts as done. A batch of no tags (of either action) is a no-op:
	// nil, and no call, whatever the key. ErrDefaultKey for a default key,
	// ErrInvalid for a tag the API refuses.
	Apply(ctx context.Context, id string, b policy.Batch) error
}

type keyOrderKey struct{}

// WithKeyOrder returns a context carrying a key's place in the order the
// handler started its keys (from 1). The handler sets it on every call it
// makes for a key; calls for no key (listings) carry none.
func WithKeyOrder(ctx context.Context, order int64) context.Context {
	return context.WithValue(ctx, keyOrderKey{}, order)
}

// KeyOrder returns the order set by WithKeyOrder, or 0 when there is none.
// A store that queues calls (behind a rate limit, say) should serve the
// lowest order first, calls for no key before all: the keys started first
// then finish first, so that an invocation cut by its deadline has finished
// keys rather than many half-done ones.
func KeyOrder(ctx context.Context) int64 {
	o, _ := ctx.Value(keyOrderKey{}).(int64)
	return o
}
