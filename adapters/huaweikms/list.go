package huaweikms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	v2 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// Listing phases.
const (
	phaseBulk = 1 // resource_instances/action: keys with their tags
	phaseKeys = 2 // ListKeys: keys the bulk listing did not return, tags unknown
	phaseDone = 3
)

// cursor is a listing position; it travels as base64url JSON. It names a
// page (a bulk offset, or a ListKeys marker) and how many raw entries of
// that page are done: resuming re-reads the page and starts after them.
// Positions count the page's entries as the service returned them, before
// any filtering, so that a page filtered differently when read again (the
// bulk listing grew since) still resumes at the right record.
type cursor struct {
	Phase  int    `json:"p"`
	Offset int    `json:"o,omitempty"` // phase 1: bulk offset of the page
	Marker string `json:"m,omitempty"` // phase 2: ListKeys marker of the page
	Limit  int    `json:"n,omitempty"` // phase 2: ListKeys page size in use
	Skip   int    `json:"s,omitempty"` // raw entries of the page already done
	// Anchors are the ids of the last of them (at most maxAnchors, the
	// last done last): a resumed listing goes on after the latest one it
	// still finds, so keys added or removed before the position, or the
	// last done key deleted, neither skip nor repeat a key.
	Anchors []string `json:"a,omitempty"`
	// Dirty, in phase 1, says a bulk page already read had entries not
	// tied to a key: phase 2 must run.
	Dirty bool `json:"d,omitempty"`
	// Bulk, at the start of phase 2, is the bulk listing's total_count
	// when phase 1 ended cleanly (Clean): if ListKeys counts as many keys,
	// the bulk listing left none out and phase 2 is skipped.
	Bulk  int  `json:"b,omitempty"`
	Clean bool `json:"k,omitempty"`
}

// maxAnchors bounds the ids a cursor keeps to find its position again.
const maxAnchors = 8

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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return cursor{}, fmt.Errorf("malformed listing cursor: %w", err)
	}
	if c.Phase < phaseBulk || c.Phase > phaseDone || c.Offset < 0 || c.Skip < 0 || c.Limit < 0 || c.Limit > maxPageSize ||
		c.Skip > maxPageSize || (c.Skip > 0) != (len(c.Anchors) > 0) || len(c.Anchors) > maxAnchors || slices.Contains(c.Anchors, "") {
		return cursor{}, errors.New("malformed listing cursor: bad phase, offset or position")
	}
	if c.Bulk < 0 || (c.Bulk != 0 || c.Clean) && (c.Phase != phaseKeys || c.Marker != "") || c.Dirty && c.Phase != phaseBulk {
		return cursor{}, errors.New("malformed listing cursor: a bulk count outside the start of phase 2")
	}
	return c, nil
}

// maxPageSize bounds the page sizes a cursor may carry.
const maxPageSize = 10000

// resumeAt finds where to resume in a page read again: after the latest
// anchor (the last done entries, the last done last) found in it. It
// reports false when the page holds none of them.
func resumeAt(ids, anchors []string) (int, bool) {
	for k := len(anchors) - 1; k >= 0; k-- {
		if i := slices.Index(ids, anchors[k]); i >= 0 {
			return i + 1, true
		}
	}
	return 0, false
}

// List starts a listing at cursor ("" = the start, or a page's Cursor, or
// what its After returned). Phase 1 streams the bulk listing
// (resource_instances/action, no tag filter, pages of BulkPageSize by
// offset) and delivers each key with its tags. Phase 2 walks ListKeys
// (key_spec ALL, marker) and delivers the keys phase 1 did not, with Tags
// nil. If the bulk listing fails (other than ErrDenied or the deadline) or
// cannot be decoded, a warning is logged and phase 2 delivers the remaining
// keys.
//
// A resumed listing needs, before phase 2, the ids phase 1 delivered in
// earlier invocations. Resuming in phase 1 at offset O re-reads bulk offsets
// [0, O) before phase 2. Resuming in phase 2 re-reads the whole bulk
// listing: the keys tagged since phase 1 (by earlier invocations of the same
// sweep, which only tag keys at ListKeys positions already passed) now
// appear in it, and may have pushed keys of phase 1 past where it ended.
// Within the page being resumed, the cursor's raw position, not the
// filtered one, says where to go on, so a page filtered differently when
// read again resumes at the same record.
func (s *Store) List(ctx context.Context, cur string) handler.Lister {
	c, err := decodeCursor(cur)
	if err != nil {
		return &lister{s: s, err: &Error{Op: "list", Kind: handler.ErrInvalid, Hint: "bad cursor", Message: err.Error()}}
	}
	l := &lister{s: s, pos: c, seen: newIDSet(), resume: cur, limit: c.Limit}
	if l.limit == 0 {
		l.limit = s.cfg.PageSize
	}
	switch c.Phase {
	case phaseBulk:
		l.rebuildEnd = c.Offset
	case phaseKeys:
		l.rebuildEnd = -1
	}
	return l
}

// lister is the handler.Lister of a Store.
type lister struct {
	s    *Store
	pos  cursor
	seen *idSet
	// rebuildEnd: before phase 2, re-read the ids of bulk offsets
	// [0, rebuildEnd) (-1: the whole bulk listing), delivered before.
	rebuildEnd int
	// resume is the cursor the listing started at; its page is the first
	// read, and its Skip applies to it.
	resume string
	limit  int // ListKeys page size, halved when the service refuses it
	// inexact: the resumed position was not found; the next page says so.
	inexact bool
	err     error // sticky
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
			l.inexact = false
			return page, nil
		}
	}
}

// pageBuilder collects the records of one page with their raw positions.
type pageBuilder struct {
	start cursor // the page, with no skip
	page  handler.Page
	ids   []string // the page's raw entries
	raw   []int    // raw entry index of each record
}

// newPage starts the page at start, whose raw entries are ids, delivering
// from entry from on; the first page of a resumed listing keeps the cursor
// it resumed at, and the entries done before join the seen set.
func (l *lister) newPage(start cursor, ids []string, from int) *pageBuilder {
	start.Skip, start.Anchors = 0, nil
	b := &pageBuilder{start: start, ids: ids}
	b.page.Cursor = start.encode()
	b.page.Inexact = l.inexact // until a page with records carries it
	if l.resume != "" {
		b.page.Cursor = l.resume
		l.resume = ""
		for _, id := range ids[:from] {
			l.seen.add(id) // done before: a later page may repeat it
		}
	}
	return b
}

// resumeFrom returns where to start in the first page of a resumed listing
// (0 for any other page). When none of the cursor's anchors is in the page,
// its position is lost: it resumes one entry before the raw position (right
// when only the last done key was deleted) and logs a warning.
func (l *lister) resumeFrom(ids []string) int {
	if l.resume == "" || l.pos.Skip == 0 {
		return 0
	}
	if from, ok := resumeAt(ids, l.pos.Anchors); ok {
		return from
	}
	l.s.log.WithFields(logrus.Fields{"skip": l.pos.Skip, "page_entries": len(ids)}).
		Warn("resumed listing: none of the keys done before the cut is on its page any more; resuming near the old position")
	l.inexact = true
	return min(l.pos.Skip-1, len(ids))
}

func (b *pageBuilder) add(rec handler.Record, raw int) {
	b.page.Records = append(b.page.Records, rec)
	b.raw = append(b.raw, raw)
}

// done finishes the page: After(n) resumes after the raw entry of record n-1.
func (b *pageBuilder) done() handler.Page {
	p := b.page
	if len(p.Records) == 0 {
		return p
	}
	start, ids, raw := b.start, b.ids, b.raw
	p.After = func(n int) string {
		if n <= 0 {
			return p.Cursor
		}
		c := start
		c.Skip = raw[n-1] + 1
		c.Anchors = slices.Clone(ids[max(0, c.Skip-maxAnchors):c.Skip])
		return c.encode()
	}
	return p
}

// nextBulk reads one bulk page. On failure it switches to phase 2.
func (l *lister) nextBulk(ctx context.Context) (handler.Page, error) {
	start := cursor{Phase: phaseBulk, Offset: l.pos.Offset, Dirty: l.pos.Dirty}
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
		l.pos = cursor{Phase: phaseKeys}
		l.resume = "" // the position was in a bulk page
		return handler.Page{}, nil
	}
	if skipped > 0 {
		l.s.log.WithFields(logrus.Fields{"api": opBulk, "offset": start.Offset, "skipped": skipped}).
			Info("bulk tag listing entries not tied to a key: their tags will be read one by one")
	}
	dirty := start.Dirty || skipped > 0
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.Key.ID
	}
	if l.resume != "" && l.pos.Skip > 0 {
		if _, ok := resumeAt(ids, l.pos.Anchors); !ok {
			// Keys added or removed before the position moved it off this
			// page: find it on the pages around.
			off, found, err := l.relocate(ctx, start.Offset, l.pos.Anchors)
			if err != nil {
				return handler.Page{}, err
			}
			if found {
				l.pos.Offset, l.pos.Skip, l.pos.Anchors = off, 0, nil
				l.rebuildEnd = max(l.rebuildEnd, off) // the ids before it were delivered before
				return handler.Page{}, nil
			}
		}
	}
	from := l.resumeFrom(ids)
	b := l.newPage(start, ids, from)
	for i := from; i < len(recs); i++ {
		if r := recs[i]; l.seen.add(r.Key.ID) {
			b.add(handler.Record{Key: r.Key, Tags: r.Tags}, i)
		}
	}
	next := start.Offset + n
	// total_count, when given, decides (a service may cap the page size
	// below the limit asked); otherwise a short page is the last one.
	if n == 0 || (total >= 0 && next >= total) || (total < 0 && n < l.s.cfg.BulkPageSize) {
		l.pos = cursor{Phase: phaseKeys, Bulk: total, Clean: !dirty && total >= 0}
	} else {
		l.pos = cursor{Phase: phaseBulk, Offset: next, Dirty: dirty}
	}
	return b.done(), nil
}

// nextKeys reads one ListKeys page and keeps the keys phase 1 did not deliver.
//
// Its first page first says how many keys there are: when phase 1 ended
// cleanly and the bulk listing's total_count is that many, the bulk
// listing left no key out and phase 2 ends there, without its pages and
// without re-reading the bulk listing's ids (a resumed listing's
// rebuildSeen). Keys created or deleted between the two counts are the
// sweep's concurrent changes: a key created during a sweep is the concern
// of its createKey event, as ever.
func (l *lister) nextKeys(ctx context.Context) (handler.Page, error) {
	start := cursor{Phase: phaseKeys, Marker: l.pos.Marker, Limit: l.limit, Bulk: l.pos.Bulk, Clean: l.pos.Clean}
	var resp *model.ListKeysResponse
	if start.Marker == "" && start.Clean {
		r, err := l.listKeys(ctx, "")
		if err != nil {
			return handler.Page{}, err
		}
		if r.Total != nil && int(*r.Total) == start.Bulk {
			l.pos = cursor{Phase: phaseDone}
			return handler.Page{}, nil
		}
		resp = r
	}
	if l.rebuildEnd != 0 {
		if err := l.rebuildSeen(ctx, l.rebuildEnd); err != nil {
			return handler.Page{}, err
		}
		l.rebuildEnd = 0
	}
	if resp == nil {
		r, err := l.listKeys(ctx, start.Marker)
		if err != nil {
			return handler.Page{}, err
		}
		resp = r
	}
	start.Limit = l.limit // as it was answered
	var keys []policy.Key
	if resp.KeyDetails != nil {
		for i := range *resp.KeyDetails {
			if k := fromModel(&(*resp.KeyDetails)[i]).key(); k.ID != "" {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 && resp.Keys != nil { // ids only
		for _, id := range *resp.Keys {
			if id != "" {
				keys = append(keys, keyDetails{KeyID: flexString(id)}.key())
			}
		}
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	from := l.resumeFrom(ids)
	b := l.newPage(start, ids, from)
	for i := from; i < len(keys); i++ {
		if l.seen.add(keys[i].ID) {
			b.add(handler.Record{Key: keys[i]}, i)
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
		l.pos = cursor{Phase: phaseKeys, Marker: marker}
	}
	return b.done(), nil
}

// relocate looks for a resumed bulk position on the pages before and after
// the one at offset, and returns the offset right after the latest anchor
// found. Bulk pages are read by offset, so keys added or removed before the
// position move it by as many entries: up to a page either way is found.
func (l *lister) relocate(ctx context.Context, offset int, anchors []string) (int, bool, error) {
	size := l.s.cfg.BulkPageSize
	for _, at := range []int{offset - size, offset + size} {
		if at < 0 {
			continue
		}
		data, err := l.s.bulk(ctx, at)
		var recs []bulkRecord
		if err == nil {
			recs, _, _, _, err = decodeBulk(data)
		}
		if err != nil {
			if errors.Is(err, handler.ErrDenied) || ctx.Err() != nil {
				return 0, false, err
			}
			continue
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.Key.ID
		}
		if from, ok := resumeAt(ids, anchors); ok {
			return at + from, true, nil
		}
	}
	return 0, false, nil
}

// minPageSize is the smallest ListKeys page size tried when the service
// refuses larger ones.
const minPageSize = 10

// listKeys reads one ListKeys page. When the service refuses the page size
// (its largest is not documented), it halves the size and asks again.
func (l *lister) listKeys(ctx context.Context, marker string) (*model.ListKeysResponse, error) {
	for {
		var resp *model.ListKeysResponse
		err := l.s.do(ctx, opListKeys, "", func(c *v2.KmsClient) error {
			body := &model.ListKeysRequestBody{
				Limit:   ptr(strconv.Itoa(l.limit)),
				KeySpec: ptr(model.GetListKeysRequestBodyKeySpecEnum().ALL),
			}
			if marker != "" {
				body.Marker = ptr(marker)
			}
			r, err := c.ListKeys(&model.ListKeysRequest{Body: body})
			resp = r
			return err
		})
		if err == nil {
			return resp, nil
		}
		if !refusedLimit(err) || l.limit <= minPageSize {
			return nil, err
		}
		smaller := max(minPageSize, l.limit/2)
		l.s.log.WithFields(logrus.Fields{"api": opListKeys, "limit": l.limit, "next_limit": smaller, "error": err.Error()}).
			Warn("the service refused the ListKeys page size: asking for smaller pages")
		l.limit = smaller
	}
}

// refusedLimit reports whether err is the service refusing a page size: a
// 400 whose code is KMS.1601 or whose message is about the limit.
func refusedLimit(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return false
	}
	return e.Code == "KMS.1601" || strings.Contains(strings.ToLower(e.Message), "limit")
}

// rebuildSeen re-reads the ids of bulk offsets [0, end), or of the whole
// bulk listing when end < 0, after a resume. If that fails, keys may be
// delivered twice (never missed).
func (l *lister) rebuildSeen(ctx context.Context, end int) error {
	for off := 0; end < 0 || off < end; {
		data, err := l.s.bulk(ctx, off)
		var recs []bulkRecord
		var n, total int
		if err == nil {
			recs, n, total, _, err = decodeBulk(data)
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
		off += n
		if n == 0 || (total >= 0 && off >= total) || (total < 0 && n < l.s.cfg.BulkPageSize) {
			break
		}
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
