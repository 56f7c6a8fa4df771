package policy_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// FuzzLoad feeds arbitrary YAML to the loader: it must never panic, and it
// returns either an engine or LoadErrors that name the file with a line and
// column, never both.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"owner.yaml", "environment.yaml", "no-temporary-in-production.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(convergencePolicies))
	f.Add([]byte("policies:\n  - name: a\n    rules:\n      - require: x\n        value: |\n          tags[\"y\"] +\n"))
	f.Add([]byte("policies: &a [*a]"))
	f.Add([]byte("policies:\n  - &p {name: a, rules: [{require: b}]}\n  - *p\n"))
	f.Add([]byte("- - - [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := policy.Load(fstest.MapFS{"f.yaml": {Data: data}}, policy.Options{})
		if err != nil {
			if e != nil {
				t.Fatal("Load returned an engine and an error")
			}
			var les policy.LoadErrors
			if !errors.As(err, &les) || len(les) == 0 {
				t.Fatalf("error %T %v is not LoadErrors", err, err)
			}
			for _, le := range les {
				if le.File != "f.yaml" && le.File != "." {
					t.Fatalf("error names file %q", le.File)
				}
				if le.File == "f.yaml" && (le.Line < 1 || le.Column < 1) {
					t.Fatalf("error %q has no line and column", le)
				}
				_ = le.Detail()
			}
			return
		}
		d := e.Evaluate(policy.Key{ID: "k", Alias: "prod-x"}, map[string]string{"env": "PROD", "temp-a": "1"}, now)
		_ = d.Batches(e.Limits().MaxBatch)
	})
}

// FuzzLoadTests feeds arbitrary YAML to the test case decoder.
func FuzzLoadTests(f *testing.F) {
	data, err := policies.FS.ReadFile("baseline_test.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("cases:\n  - name: a\n    now: 2026-01-01\n    want: {violations: [{policy: p, rule: r, tag: t, remediated: true}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cases, err := policy.LoadTests(fstest.MapFS{"f_test.yaml": {Data: data}})
		var les policy.LoadErrors
		if err != nil && !errors.As(err, &les) {
			t.Fatalf("error %T %v is not LoadErrors", err, err)
		}
		if err != nil && cases != nil {
			t.Fatal("LoadTests returned cases and an error")
		}
	})
}

// FuzzEvaluate evaluates the shipped policies and some competing ones on
// arbitrary tags: no panic, every write obeys the tag rules, and the plan
// converges. The input is "key=value" pairs separated by newlines, and the
// key's alias.
func FuzzEvaluate(f *testing.F) {
	fsys := fstest.MapFS{"extra.yaml": {Data: []byte(convergencePolicies)}}
	for _, name := range []string{"owner.yaml", "cost-center.yaml", "environment.yaml", "no-temporary-in-production.yaml", "exemption.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	e, err := policy.Load(fsys, policy.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("env=PROD \ntemp-x=1\nowner= ", "prod-a", "desc")
	f.Add("cost-center=CC-Ops\nregion=cn\nlifecycle=scratch", "fin-x", strings.Repeat("é", 50))
	f.Add("_sys_x=1\ntagwarden-exempt=TRUE", "", "a=b")
	f.Add("a=1\nb=2\nc=3\nd=4\ne=5\nf=6\ng=7\nh=8\ni=9\nj=10\nk=11", "app-b", "")
	f.Fuzz(func(t *testing.T, pairs, alias, desc string) {
		tags := map[string]string{}
		for _, line := range strings.Split(pairs, "\n") {
			k, v, _ := strings.Cut(line, "=")
			tags[k] = v
		}
		k := policy.Key{ID: "k", Alias: alias, Description: desc, State: policy.StateEnabled, Created: now.Add(-time.Hour)}
		d := e.Evaluate(k, tags, now)
		if err := checkPlan(e.Limits(), k, tags, d); err != nil {
			t.Fatalf("tags %q: %v (decision %+v)", tags, err, d)
		}
		if again := e.Evaluate(k, d.Apply(tags), now); again.HasChanges() {
			t.Fatalf("tags %q: plan %+v does not converge: %+v", tags, d, again)
		}
	})
}
