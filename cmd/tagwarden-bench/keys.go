package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

// benchEpoch is the creation time of the newest generated key.
var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchKey is one generated key, convertible to the emulator's seed shape
// and to what the policies see.
type benchKey struct {
	id, alias string
	created   time.Time
	tags      map[string]string
}

// mistakes are the non-compliant shapes, each a fix the shipped policies
// plan: one create, one delete, several creates in one batch, or a delete
// and a create (two BatchCreateKmsTags calls).
var mistakes = []func(i int, k *benchKey){
	func(_ int, k *benchKey) { delete(k.tags, "owner") },      // create owner
	func(_ int, k *benchKey) { k.tags["env"] = "PROD " },      // create env (normalized)
	func(_ int, k *benchKey) { k.tags = map[string]string{} }, // create owner, cost-center, env
	func(_ int, k *benchKey) { // prod key with a temporary tag: delete it
		k.alias = "prod-" + k.alias
		k.tags["env"] = "prod"
		k.tags["tmp-build"] = "7"
	},
	func(_ int, k *benchKey) { // env spelled out and a temporary tag: delete and create
		k.tags["env"] = "Production"
		k.tags["temp-debug"] = "1"
	},
}

// genKeys makes n keys of which one in every 1/ratio is non-compliant
// under the shipped policies (ratio 0.1: 10%), spread evenly through the
// listing and cycling through mistakes. It is deterministic.
func genKeys(n int, ratio float64) []benchKey {
	keys := make([]benchKey, n)
	bad := 0
	for i := range keys {
		k := &keys[i]
		k.id = keyID(i)
		k.alias = fmt.Sprintf("app-%06d", i)
		k.created = benchEpoch.Add(-time.Duration(i) * time.Minute)
		k.tags = map[string]string{
			"owner":       []string{"team-payments", "team-data", "alice@example.com"}[i%3],
			"cost-center": []string{"cc-ops", "cc-finance", "cc-data"}[i%3],
			"env":         []string{"dev", "staging", "prod"}[i%3],
		}
		if i%2 == 0 {
			k.tags["app"] = "orders-api"
		}
		// key i is non-compliant when the running count of bad keys falls
		// behind ratio*(i+1).
		if float64(bad) < ratio*float64(i+1)-1e-9 {
			mistakes[bad%len(mistakes)](i, k)
			bad++
		}
	}
	return keys
}

// keyID is a deterministic UUID-shaped key id.
func keyID(i int) string {
	return fmt.Sprintf("%08x-7a3b-4c5d-8e9f-%012x", uint32(i)*2654435761, i)
}

// seed converts keys to the emulator's seed shape.
func seed(keys []benchKey) []emulator.SeedKey {
	out := make([]emulator.SeedKey, len(keys))
	for i, k := range keys {
		tags := make([]emulator.Tag, 0, len(k.tags))
		for key, v := range k.tags {
			tags = append(tags, emulator.Tag{Key: key, Value: v})
		}
		out[i] = emulator.SeedKey{ResourceID: k.id, Tags: tags, ResourceDetail: emulator.KeyDetails{
			KeyID: k.id, KeyAlias: k.alias, KeySpec: "AES_256", KeyUsage: "ENCRYPT_DECRYPT", KeyState: "2",
			DefaultKeyFlag: "0", Origin: "kms", CreationDate: strconv.FormatInt(k.created.UnixMilli(), 10),
		}}
	}
	return out
}

// policyKey is what the policies see of k (as the KMS adapter decodes it).
func (k benchKey) policyKey() policy.Key {
	return policy.Key{ID: k.id, Alias: k.alias, State: policy.StateEnabled, Spec: "AES_256",
		Usage: "ENCRYPT_DECRYPT", Origin: "kms", Created: k.created, Keystore: "0", EnterpriseProject: "0"}
}

// plan is what the shipped policies ask of a set of keys.
type plan struct {
	nonCompliant int // keys with changes to make
	batches      int // BatchCreateKmsTags calls those changes take
}

// planFor evaluates keys with e, independently of the handler.
func planFor(e *policy.Engine, keys []benchKey, now time.Time) plan {
	var p plan
	for _, k := range keys {
		d := e.Evaluate(k.policyKey(), k.tags, now)
		if d.HasChanges() {
			p.nonCompliant++
			p.batches += len(d.Batches(e.Limits().MaxBatch))
		}
	}
	return p
}
