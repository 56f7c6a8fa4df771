package emulator

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// sampleEpoch is the "now" of SampleKeys (2026-01-01T00:00:00Z), so that a
// sample does not depend on the clock.
const sampleEpoch = 1767225600000

var (
	defaultAliases = []string{"evs/default", "kps/default", "csms/default", "obs/default",
		"rds/default", "sfs/default", "ims/default", "dew/default"}
	teams    = []string{"fin", "prod", "dev", "ops", "hr", "data", "sec", "ml"}
	services = []string{"payments", "orders", "ledger", "scratch", "backup", "analytics",
		"secrets", "logs", "billing", "search"}
	owners = []string{"alice@example.com", "bob@example.com", "team-payments", "team-platform",
		"carol@example.com", "dan@example.com", "team-data", "sec-ops"}
	apps        = []string{"checkout", "orders-api", "ledger-sync", "etl", "vault-bridge", "reporting"}
	enterprises = []string{"0", "0", "0", "1812c907-ecef-41ac-b5da-1d99d17e15ce", "5a3e51b2-7d0c-4f5e-9a47-0c3b1f6a2e11"}
)

type weighted[T any] struct {
	v T
	w int
}

func pick[T any](r *rand.Rand, ws []weighted[T]) T {
	total := 0
	for _, x := range ws {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range ws {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return ws[len(ws)-1].v
}

var specWeights = []weighted[string]{
	{"AES_256", 60}, {"SM4", 10}, {"RSA_2048", 8}, {"RSA_3072", 3}, {"RSA_4096", 3},
	{"EC_P256", 8}, {"EC_P384", 3}, {"SM2", 5},
}

var stateWeights = []weighted[string]{{"2", 85}, {"3", 8}, {"4", 4}, {"1", 2}, {"5", 1}}

func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	b = b&^(0xc<<60) | 0x8<<60 // variant
	a = a&^0xf000 | 0x4000     // version 4
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// SampleKeys returns n realistic keys with tags, the same for the same n and
// seed: mixed specs and usages, mostly enabled keys with some disabled,
// pending deletion or pending activation/import, aliases such as
// fin-payments-01, prod-orders or dev-scratch, a few default keys
// (evs/default, kps/default, ...) without tags, some untagged keys, and the
// usual tag mistakes: a missing owner, env values such as "PROD ", a tmp or
// test env on a prod key, temp-* tags, a misspelled cost-center. With n of
// 13 or more, three more keys carry mistakes the shipped policies can only
// report: tagwarden-exempt "true" without an exempt-reason, an exemption
// value other than "true", and ten tags without an owner.
func SampleKeys(n int, seed int64) []SeedKey {
	if n <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed))
	out := make([]SeedKey, 0, n)
	nDefault := min(len(defaultAliases), 1+n/8, n/4)
	for i := 0; i < nDefault; i++ {
		created := sampleEpoch - int64(3*365*24*3600*1000) + r.Int64N(30*24*3600*1000)
		d := KeyDetails{
			KeyID: uuid(r), KeyAlias: defaultAliases[i], KeySpec: "AES_256", KeyUsage: "ENCRYPT_DECRYPT",
			CreationDate: strconv.FormatInt(created, 10), KeyState: "2", DefaultKeyFlag: "1",
			KeyDescription: "Default key of " + defaultAliases[i][:len(defaultAliases[i])-len("/default")],
		}
		out = append(out, SeedKey{ResourceID: d.KeyID, ResourceDetail: d, Tags: []Tag{}})
	}
	aliasCount := map[string]int{}
	for i := 0; len(out) < n; i++ {
		team := teams[r.IntN(len(teams))]
		svc := services[r.IntN(len(services))]
		state := pick(r, stateWeights)
		// The first keys show every mistake and state at least once.
		force := -1
		if i < len(forced) {
			force = i
			team = forced[i].team
			if forced[i].state != "" {
				state = forced[i].state
			}
		}
		base := team + "-" + svc
		if team == "dev" && r.IntN(3) == 0 {
			base = "dev-scratch"
		}
		aliasCount[base]++
		alias := base
		if c := aliasCount[base]; c > 1 || r.IntN(2) == 0 {
			alias = fmt.Sprintf("%s-%02d", base, c)
		}
		spec := pick(r, specWeights)
		usage := "ENCRYPT_DECRYPT"
		switch spec {
		case "EC_P256", "EC_P384":
			usage = "SIGN_VERIFY"
		case "RSA_2048", "RSA_3072", "RSA_4096", "SM2":
			if r.IntN(2) == 0 {
				usage = "SIGN_VERIFY"
			}
		}
		created := sampleEpoch - r.Int64N(3*365*24*3600*1000)
		d := KeyDetails{
			KeyID: uuid(r), KeyAlias: alias, KeySpec: spec, KeyUsage: usage,
			CreationDate: strconv.FormatInt(created, 10), KeyState: state, DefaultKeyFlag: "0",
			SysEnterpriseProjectID: enterprises[r.IntN(len(enterprises))],
		}
		switch state {
		case "4":
			d.ScheduledDeletionDate = strconv.FormatInt(sampleEpoch+7*24*3600*1000, 10)
			d.PendingDays = "7"
		case "5":
			d.Origin = "external"
		}
		if spec == "AES_256" || spec == "SM4" {
			d.KeyRotationEnabled = []string{"false", "true"}[r.IntN(2)]
		}
		if r.IntN(4) == 0 {
			d.KeyDescription = "Key for " + svc
		}
		tags := sampleTags(r, team, svc, force)
		if j := i - len(forced); j >= 0 && j < len(reportOnly) {
			// Drawn like any other key (so the keys after it do not change),
			// then given a mistake no tag change can fix.
			d.KeyState, d.ScheduledDeletionDate, d.PendingDays = "2", "", ""
			tags = reportOnly[j](team)
		}
		out = append(out, SeedKey{ResourceID: d.KeyID, ResourceDetail: d, Tags: tags})
	}
	return out
}

// envOf is the env a clean key of team carries.
func envOf(team string) string {
	switch team {
	case "prod", "fin":
		return "prod"
	case "dev":
		return "dev"
	}
	return "staging"
}

// reportOnly are the keys after the forced ones: each breaks a shipped
// policy in a way the policies can only report, not fix, and is otherwise
// clean, so that a sweep over a sample shows violations that remain.
var reportOnly = []func(team string) []Tag{
	// An exemption without the reason the exemption policy requires (it
	// has no default value).
	func(team string) []Tag {
		return []Tag{{"owner", "sec-ops"}, {"env", envOf(team)}, {"cost-center", "cc-" + team}, {"tagwarden-exempt", "true"}}
	},
	// An exemption value other than "true", with a reason.
	func(team string) []Tag {
		return []Tag{{"owner", "team-platform"}, {"env", envOf(team)}, {"cost-center", "cc-" + team},
			{"tagwarden-exempt", "maybe"}, {"exempt-reason", "pending review"}}
	},
	// Ten tags and no owner: the owner cannot be added (10 tags per key).
	func(team string) []Tag {
		return []Tag{{"env", envOf(team)}, {"cost-center", "cc-" + team}, {"app", "reporting"}, {"team", team},
			{"project", "atlas"}, {"tier", "gold"}, {"backup", "daily"}, {"compliance", "iso27001"},
			{"created-by", "terraform"}, {"ticket", "OPS-1234"}}
	},
}

// forced are the first sample keys, one per mistake (see sampleTags).
var forced = []struct{ team, state string }{
	{"prod", ""},  // 0: missing owner
	{"ops", ""},   // 1: env "PROD "
	{"prod", ""},  // 2: env tmp on a prod key
	{"dev", ""},   // 3: temp-* tag
	{"fin", ""},   // 4: misspelled cost-center
	{"data", ""},  // 5: untagged
	{"fin", "3"},  // 6: clean, disabled
	{"prod", "4"}, // 7: clean, pending deletion
}

// sampleTags draws a key's tags, mistakes included; force >= 0 selects the
// forced mistake of that index instead of random ones.
func sampleTags(r *rand.Rand, team, svc string, force int) []Tag {
	if force == 5 || force < 0 && r.IntN(100) < 8 {
		return []Tag{}
	}
	env := map[string]string{"prod": "prod", "fin": "prod", "dev": "dev"}[team]
	if env == "" {
		env = []string{"prod", "staging", "dev"}[r.IntN(3)]
	}
	x := r.IntN(100)
	switch {
	case force == 1 || force < 0 && x < 5:
		env = "PROD "
	case force == 2:
		env = "tmp"
	case force < 0 && x < 9 && env == "prod":
		env = []string{"tmp", "test"}[r.IntN(2)]
	}
	var tags []Tag
	if force != 0 && (force >= 0 || r.IntN(100) >= 10) {
		tags = append(tags, Tag{"owner", owners[r.IntN(len(owners))]})
	}
	tags = append(tags, Tag{"env", env})
	cc := Tag{"cost-center", "cc-" + team}
	if r.IntN(100) < 3 {
		cc.Value = fmt.Sprintf("CC-%04d", 1000+r.IntN(60)) // not normalized
	}
	if force == 4 || force < 0 && r.IntN(100) < 5 {
		cc.Key = []string{"cost-centre", "costcenter", "cost_center", "cost-cneter"}[r.IntN(4)]
	}
	tags = append(tags, cc)
	if r.IntN(2) == 0 {
		tags = append(tags, Tag{"app", apps[r.IntN(len(apps))]})
	}
	if r.IntN(3) == 0 {
		tags = append(tags, Tag{"team", team})
	}
	if force == 3 || force < 0 && r.IntN(100) < 5 {
		tags = append(tags, Tag{"temp-" + []string{"debug", "migration", "owner"}[r.IntN(3)], "1"})
	}
	if svc == "payments" && r.IntN(2) == 0 {
		tags = append(tags, Tag{"data-class", "pci"})
	}
	return tags
}
