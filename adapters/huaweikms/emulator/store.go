package emulator

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// key is one stored key. details and tags are never mutated in place once
// stored (writes replace them), so responses may reference them after the
// lock is released.
type key struct {
	details *KeyDetails
	tags    []Tag // sorted by key; non-nil
	created int64
}

// project holds a project's keys in listing order (newest first, then id)
// with an index by id.
type project struct {
	keys []*key
	byID map[string]*key
}

func newProject() *project { return &project{byID: make(map[string]*key)} }

// compareAt orders listing positions: newest first, then by id.
func compareAt(aCreated int64, aID string, bCreated int64, bID string) int {
	if c := cmp.Compare(bCreated, aCreated); c != 0 {
		return c
	}
	return strings.Compare(aID, bID)
}

func compareKeys(a, b *key) int {
	return compareAt(a.created, a.details.KeyID, b.created, b.details.KeyID)
}

// search returns the position of the first key not before (created, id).
func (p *project) search(created int64, id string) int {
	i, _ := slices.BinarySearchFunc(p.keys, id, func(k *key, id string) int {
		return compareAt(k.created, k.details.KeyID, created, id)
	})
	return i
}

// put adds or replaces a key.
func (p *project) put(k *key) {
	if old, ok := p.byID[k.details.KeyID]; ok {
		p.remove(old)
	}
	i := p.search(k.created, k.details.KeyID)
	p.keys = slices.Insert(p.keys, i, k)
	p.byID[k.details.KeyID] = k
}

// appendSorted adds keys in bulk (New): append all, sort once. The keys
// must be new: New refuses a seed listing an id twice.
func (p *project) appendSorted(ks []*key) {
	for _, k := range ks {
		p.byID[k.details.KeyID] = k
	}
	p.keys = append(p.keys, ks...)
	slices.SortFunc(p.keys, compareKeys)
}

func (p *project) remove(k *key) {
	i := p.search(k.created, k.details.KeyID)
	if i < len(p.keys) && p.keys[i] == k {
		p.keys = slices.Delete(p.keys, i, i+1)
	}
	delete(p.byID, k.details.KeyID)
}

// marker encodes a resume position after k: "<created>.<id>".
func marker(k *key) string {
	return strconv.FormatInt(k.created, 10) + "." + k.details.KeyID
}

// afterMarker returns the position after the key the marker names, which
// need not exist any more.
func (p *project) afterMarker(m string) (int, bool) {
	c, id, ok := strings.Cut(m, ".")
	if !ok || !validKeyID(id) {
		return 0, false
	}
	created, err := strconv.ParseInt(c, 10, 64)
	if err != nil {
		return 0, false
	}
	i := p.search(created, id)
	if i < len(p.keys) && p.keys[i].created == created && p.keys[i].details.KeyID == id {
		i++
	}
	return i, true
}

// normalize fills the fields the live service always returns and that a
// seed may omit, and returns the stored form of a seed key.
func normalize(s SeedKey, realm, domain string) *key {
	d := s.ResourceDetail
	if d.KeyID == "" {
		d.KeyID = s.ResourceID
	}
	def := func(f *string, v string) {
		if *f == "" {
			*f = v
		}
	}
	def(&d.DomainID, domain)
	def(&d.Realm, realm)
	def(&d.KeySpec, "AES_256")
	def(&d.KeyUsage, "ENCRYPT_DECRYPT")
	def(&d.CreationDate, "1700000000000")
	def(&d.KeyState, "2")
	def(&d.DefaultKeyFlag, "0")
	def(&d.KeyType, "1")
	def(&d.Origin, "kms")
	def(&d.KeyRotationEnabled, "false")
	def(&d.SysEnterpriseProjectID, "0")
	def(&d.KeystoreID, "0")
	def(&d.KeystoreType, "DEFAULT")
	def(&d.MultiRegionKeyType, "SINGLE")
	if d.KeyAlias == "" {
		d.KeyAlias = "KMS-" + d.KeyID[:min(4, len(d.KeyID))]
	}
	created, _ := strconv.ParseInt(d.CreationDate, 10, 64)
	tags := make([]Tag, len(s.Tags))
	copy(tags, s.Tags)
	sortTags(tags)
	return &key{details: &d, tags: tags, created: created}
}

func sortTags(t []Tag) {
	slices.SortFunc(t, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
}

func (k *key) seedKey(projectID string) SeedKey {
	tags := make([]Tag, len(k.tags))
	copy(tags, k.tags)
	return SeedKey{ProjectID: projectID, ResourceID: k.details.KeyID, ResourceDetail: *k.details, Tags: tags}
}

func (k *key) isDefault() bool { return k.details.DefaultKeyFlag == "1" }

func (k *key) tagMap() map[string]string {
	m := make(map[string]string, len(k.tags))
	for _, t := range k.tags {
		m[t.Key] = t.Value
	}
	return m
}
