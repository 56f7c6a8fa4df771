package huaweikms

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	v2 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
)

// Listing phases.
const (
	phaseBulk = 1 // resource_instances/action: keys with their tags
	phaseKeys = 2 // ListKeys: keys the bulk listing did not return, tags unknown
	phaseDone = 3
)

// cursor is the listing position at the start of a page; it travels as
// base64url JSON.
type cursor struct {
	Phase  int    `json:"p"`
	Offset int    `json:"o,omitempty"` // phase 1: bulk offset
	Marker string `json:"m,omitempty"` // phase 2: ListKeys marker
	// BulkEnd (phase 2) is how far the bulk listing was read: the ids of
	// bulk offsets [0, BulkEnd) were delivered in phase 1 and are skipped.
	BulkEnd int `json:"b,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{Phase: phaseBulk}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("malformed listing cursor: %w", err)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, fmt.Errorf("malformed listing cursor: %w", err)
	}
	if c.Phase < phaseBulk || c.Phase > phaseDone || c.Offset < 0 || c.BulkEnd < 0 {
		return cursor{}, errors.New("malformed listing cursor: bad phase or offset")
	}
	return c, nil
}

// idSet is a compact set of key ids. UUIDs (what KMS key ids are) are kept
// as 16 bytes in a sorted slice, searched by bisection; those added since
// the last merge wait in a small map (at most a sixteenth of the slice, or
// minRecent), so that a merge costs one pass over the slice and the merges
// add up to a few passes in all. Other ids are kept in a map.
type idSet struct {
	sorted []uuid128            // sorted, no duplicates
	recent map[uuid128]struct{} // added since the last merge, none in sorted
	other  map[string]struct{}
}

// uuid128 is a UUID as two big-endian halves, so that comparing two is two
// integer comparisons.
type uuid128 struct{ hi, lo uint64 }

// minRecent is the number of recent ids that triggers a merge into a small
// sorted slice: one page of the bulk listing.
const minRecent = 1024

func newIDSet() *idSet {
	return &idSet{recent: make(map[uuid128]struct{}), other: make(map[string]struct{})}
}

func compareUUID(a, b uuid128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func parseID(id string) (uuid128, bool) {
	if len(id) != 36 {
		return uuid128{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid128{}, false
	}
	return uuid128{binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(u[8:])}, true
}

func (s *idSet) hasUUID(u uuid128) bool {
	if _, ok := s.recent[u]; ok {
		return true
	}
	lo, hi := 0, len(s.sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v := s.sorted[m]; v.hi < u.hi || v.hi == u.hi && v.lo < u.lo {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s.sorted) && s.sorted[lo] == u
}

// add inserts id and reports whether it was new.
func (s *idSet) add(id string) bool {
	u, ok := parseID(id)
	if !ok {
		if _, ok := s.other[id]; ok {
			return false
		}
		s.other[id] = struct{}{}
		return true
	}
	if s.hasUUID(u) {
		return false
	}
	s.recent[u] = struct{}{}
	if len(s.recent) >= max(minRecent, len(s.sorted)/16) {
		s.merge()
	}
	return true
}

// merge moves the recent ids into the sorted slice, merging from the back
// in place.
func (s *idSet) merge() {
	add := make([]uuid128, 0, len(s.recent))
	for u := range s.recent {
		add = append(add, u)
	}
	slices.SortFunc(add, compareUUID)
	n := len(s.sorted)
	s.sorted = slices.Grow(s.sorted, len(add))[:n+len(add)]
	i, j := n-1, len(add)-1
	for w := len(s.sorted) - 1; j >= 0; w-- {
		if i >= 0 && compareUUID(s.sorted[i], add[j]) > 0 {
			s.sorted[w] = s.sorted[i]
			i--
		} else {
			s.sorted[w] = add[j]
			j--
		}
	}
	clear(s.recent)
}

func (s *idSet) has(id string) bool {
	if u, ok := parseID(id); ok {
		return s.hasUUID(u)
	}
	_, ok := s.other[id]
	return ok
}

// len is the number of ids in the set.
func (s *idSet) len() int { return len(s.sorted) + len(s.recent) + len(s.other) }

// List starts a listing at cursor ("" = the start). Phase 1 streams the bulk
// listing (resource_instances/action, no tag filter, pages of BulkPageSize by
// offset) and delivers each key with its tags. Phase 2 walks ListKeys
// (key_spec ALL, marker) and delivers the keys phase 1 did not, with Tags nil.
// If the bulk listing fails (other than ErrDenied or the deadline) or cannot
// be decoded, a warning is logged and phase 2 delivers the remaining keys.
// Resuming at a cursor past the first bulk page re-reads, before phase 2, the
// ids of the bulk pages delivered before it (one bulk call per BulkPageSize
// keys) to rebuild the set of keys already delivered.
func (s *Store) List(ctx context.Context, cur string) handler.Lister {
	c, err := decodeCursor(cur)
	if err != nil {
		return &lister{s: s, err: &Error{Op: "list", Kind: handler.ErrInvalid, Hint: "bad cursor", Message: err.Error()}}
	}
	l := &lister{s: s, pos: c, seen: newIDSet()}
	switch c.Phase {
	case phaseBulk:
		l.rebuildEnd = c.Offset
	case phaseKeys:
		l.rebuildEnd = c.BulkEnd
	}
	return l
}

// lister is the handler.Lister of a Store.
type lister struct {
	s    *Store
	pos  cursor
	seen *idSet
	// rebuildEnd > 0: a resumed listing must re-read the ids of bulk
	// offsets [0, rebuildEnd) before phase 2, as they were delivered before.
	rebuildEnd int
	err        error // sticky
	// prevMarker guards against a service that repeats its marker.
	prevMarker string
}

// Next returns the next non-empty page, or io.EOF.
func (l *lister) Next(ctx context.Context) (handler.Page, error) {
	if l.err != nil {
		return handler.Page{}, l.err
	}
	for {
		var (
			page handler.Page
			err  error
		)
		switch l.pos.Phase {
		case phaseBulk:
			page, err = l.nextBulk(ctx)
		case phaseKeys:
			page, err = l.nextKeys(ctx)
		default:
			return handler.Page{}, io.EOF
		}
		if err != nil {
			l.err = err
			return handler.Page{}, err
		}
		if len(page.Records) > 0 {
			return page, nil
		}
	}
}

// nextBulk reads one bulk page. On failure it switches to phase 2.
func (l *lister) nextBulk(ctx context.Context) (handler.Page, error) {
	start := l.pos
	data, err := l.s.bulk(ctx, start.Offset)
	var recs []bulkRecord
	var n, total, skipped int
	if err == nil {
		recs, n, total, skipped, err = decodeBulk(data)
	}
	if err != nil {
		if errors.Is(err, handler.ErrDenied) || ctx.Err() != nil {
			return handler.Page{}, err
		}
		l.s.log.WithFields(logrus.Fields{"api": opBulk, "offset": start.Offset, "error": err.Error()}).
			Warn("bulk tag listing failed: falling back to listing keys and reading their tags one by one")
		l.pos = cursor{Phase: phaseKeys, BulkEnd: start.Offset}
		return handler.Page{}, nil
	}
	if skipped > 0 {
		l.s.log.WithFields(logrus.Fields{"api": opBulk, "offset": start.Offset, "skipped": skipped}).
			Info("bulk tag listing entries not tied to a key: their tags will be read one by one")
	}
	page := handler.Page{Cursor: start.encode()}
	for _, r := range recs {
		if l.seen.add(r.Key.ID) {
			page.Records = append(page.Records, handler.Record{Key: r.Key, Tags: r.Tags})
		}
	}
	next := start.Offset + n
	// total_count, when given, decides (a service may cap the page size
	// below the limit asked); otherwise a short page is the last one.
	last := n == 0 || (total >= 0 && next >= total) || (total < 0 && n < l.s.cfg.BulkPageSize)
	if last {
		l.pos = cursor{Phase: phaseKeys, BulkEnd: next}
	} else {
		l.pos = cursor{Phase: phaseBulk, Offset: next}
	}
	return page, nil
}

// nextKeys reads one ListKeys page and keeps the keys phase 1 did not deliver.
func (l *lister) nextKeys(ctx context.Context) (handler.Page, error) {
	if l.rebuildEnd > 0 {
		if err := l.rebuildSeen(ctx, l.rebuildEnd); err != nil {
			return handler.Page{}, err
		}
		l.rebuildEnd = 0
	}
	start := l.pos
	var resp *model.ListKeysResponse
	err := l.s.do(ctx, opListKeys, "", func(c *v2.KmsClient) error {
		body := &model.ListKeysRequestBody{
			Limit:   ptr(strconv.Itoa(l.s.cfg.PageSize)),
			KeySpec: ptr(model.GetListKeysRequestBodyKeySpecEnum().ALL),
		}
		if start.Marker != "" {
			body.Marker = ptr(start.Marker)
		}
		r, err := c.ListKeys(&model.ListKeysRequest{Body: body})
		resp = r
		return err
	})
	if err != nil {
		return handler.Page{}, err
	}
	page := handler.Page{Cursor: start.encode()}
	listed := 0
	if resp.KeyDetails != nil {
		for i := range *resp.KeyDetails {
			k := fromModel(&(*resp.KeyDetails)[i]).key()
			if k.ID == "" {
				continue
			}
			listed++
			if l.seen.add(k.ID) {
				page.Records = append(page.Records, handler.Record{Key: k})
			}
		}
	}
	if listed == 0 && resp.Keys != nil { // ids only
		for _, id := range *resp.Keys {
			if id != "" && l.seen.add(id) {
				page.Records = append(page.Records, handler.Record{Key: keyDetails{KeyID: flexString(id)}.key()})
			}
		}
	}
	marker := ""
	if resp.NextMarker != nil {
		marker = *resp.NextMarker
	}
	truncated := resp.Truncated != nil && resp.Truncated.Value() == "true"
	switch {
	case !truncated || marker == "":
		l.pos = cursor{Phase: phaseDone}
	case marker == start.Marker || marker == l.prevMarker:
		return handler.Page{}, &Error{Op: opListKeys, Kind: handler.ErrTransient, Hint: "unreadable response", Message: "next_marker does not advance"}
	default:
		l.prevMarker = start.Marker
		l.pos = cursor{Phase: phaseKeys, Marker: marker, BulkEnd: start.BulkEnd}
	}
	return page, nil
}

// rebuildSeen re-reads the ids of bulk offsets [0, end) after a resume. If
// that fails, keys may be delivered twice (never missed).
func (l *lister) rebuildSeen(ctx context.Context, end int) error {
	for off := 0; off < end; {
		data, err := l.s.bulk(ctx, off)
		var recs []bulkRecord
		var n int
		if err == nil {
			recs, n, _, _, err = decodeBulk(data)
		}
		if err != nil {
			if errors.Is(err, handler.ErrDenied) || ctx.Err() != nil {
				return err
			}
			l.s.log.WithFields(logrus.Fields{"api": opBulk, "error": err.Error()}).
				Warn("resumed listing could not re-read the bulk listing: some keys may be listed twice")
			return nil
		}
		for _, r := range recs {
			l.seen.add(r.Key.ID)
		}
		if n == 0 {
			break
		}
		off += n
	}
	return nil
}

// bulkResponse receives the raw body of resource_instances/action, decoded
// by decodeBulk rather than by the SDK's model (whose shape the live service
// does not follow).
type bulkResponse struct {
	Body           *string `json:"body,omitempty"`
	HttpStatusCode int     `json:"-"`
}

// bulkRequest is the request of resource_instances/action.
type bulkRequest struct {
	ResourceInstances string                          `json:"resource_instances"`
	Body              *model.ListKmsByTagsRequestBody `json:"body,omitempty"`
}

func bulkRequestDef() *def.HttpRequestDef {
	return def.NewHttpRequestDefBuilder().
		WithMethod(http.MethodPost).
		WithPath("/v1.0/{project_id}/kms/{resource_instances}/action").
		WithResponse(new(bulkResponse)).
		WithContentType("application/json;charset=UTF-8").
		WithRequestField(def.NewFieldDef().WithName("ResourceInstances").WithJsonTag("resource_instances").WithLocationType(def.Path)).
		WithRequestField(def.NewFieldDef().WithName("Body").WithLocationType(def.Body)).
		WithResponseField(def.NewFieldDef().WithName("Body").WithLocationType(def.Body)).
		Build()
}

// bulk reads one page of the bulk listing, raw.
func (s *Store) bulk(ctx context.Context, offset int) ([]byte, error) {
	var out []byte
	err := s.do(ctx, opBulk, "", func(c *v2.KmsClient) error {
		req := &bulkRequest{ResourceInstances: "resource_instances", Body: &model.ListKmsByTagsRequestBody{
			Action: ptr("filter"), Limit: ptr(strconv.Itoa(s.cfg.BulkPageSize)), Offset: ptr(strconv.Itoa(offset)),
		}}
		resp, err := c.HcClient.Sync(req, bulkRequestDef())
		if err != nil {
			return err
		}
		r, ok := resp.(*bulkResponse)
		if !ok || r.Body == nil {
			return &Error{Op: opBulk, Kind: handler.ErrTransient, Hint: "unreadable response", Message: "empty body"}
		}
		out = []byte(*r.Body)
		return nil
	})
	return out, err
}

func ptr[T any](v T) *T { return &v }
