package policy

import (
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// keyEnv is the key as expressions see it: `key.alias`, `key.state`, ...
// Field names are lower snake case, as in the JSON form of Key.
type keyEnv struct {
	ID                string    `expr:"id"`
	Alias             string    `expr:"alias"`
	State             string    `expr:"state"`
	Spec              string    `expr:"spec"`
	Usage             string    `expr:"usage"`
	Origin            string    `expr:"origin"`
	Created           time.Time `expr:"created"`
	AgeDays           int       `expr:"age_days"`
	Default           bool      `expr:"default"`
	Description       string    `expr:"description"`
	EnterpriseProject string    `expr:"enterprise_project"`
	Keystore          string    `expr:"keystore"`
	RotationEnabled   bool      `expr:"rotation_enabled"`
}

// env is the typed environment every expression is compiled against and
// runs in. One env lives in each pooled evaluation state; Has is bound to
// that env once, so evaluating allocates no closure.
type env struct {
	Key  keyEnv            `expr:"key"`
	Tags map[string]string `expr:"tags"`
	Now  time.Time         `expr:"now"`
	// Event is the event that named the key; its fields are nil when there
	// is none (see Engine.EvaluateEvent).
	Event eventEnv          `expr:"event"`
	Has   func(string) bool `expr:"has"`
	// lower, upper and trim replace expr's builtins of the same names with
	// typed functions, which the VM calls without reflection.
	Lower func(string) string `expr:"lower"`
	Upper func(string) string `expr:"upper"`
	Trim  func(string) string `expr:"trim"`
}

// set loads one key, its tags and the evaluation time into the env.
func (e *env) set(k *Key, tags map[string]string, now time.Time) {
	e.Key = keyEnv{
		ID: k.ID, Alias: k.Alias, State: k.State, Spec: k.Spec, Usage: k.Usage, Origin: k.Origin,
		Created: k.Created, Default: k.Default, Description: k.Description,
		EnterpriseProject: k.EnterpriseProject, Keystore: k.Keystore, RotationEnabled: k.RotationEnabled,
	}
	if !k.Created.IsZero() && !now.IsZero() {
		e.Key.AgeDays = int(now.Sub(k.Created) / (24 * time.Hour))
	}
	e.Tags = tags
	e.Now = now
}

// newEnv returns an env whose has() helper reads the env's own tags.
func newEnv() *env {
	e := &env{}
	e.Has = func(name string) bool { _, ok := e.Tags[name]; return ok }
	e.Lower, e.Upper, e.Trim = strings.ToLower, strings.ToUpper, strings.TrimSpace
	return e
}

// exprKind says what an expression must produce.
type exprKind int

const (
	boolExpr exprKind = iota
	stringExpr
)

// compileExpr compiles src against the environment. Builtins that would
// make evaluation depend on the wall clock (now, date without arguments is
// fine) are disabled so that a plan depends only on key, tags and now.
func compileExpr(src string, kind exprKind) (*vm.Program, error) {
	opts := []expr.Option{expr.Env(env{}), expr.DisableBuiltin("now"),
		expr.DisableBuiltin("lower"), expr.DisableBuiltin("upper"), expr.DisableBuiltin("trim")}
	switch kind {
	case boolExpr:
		opts = append(opts, expr.AsBool())
	case stringExpr:
		opts = append(opts, expr.AsKind(reflect.String))
	}
	return expr.Compile(src, opts...)
}

// exprMessage rewrites expr's messages into the words of the policy
// language: the Go type names of the environment mean nothing to users.
var exprMessage = strings.NewReplacer(
	"type policy.keyEnv", "key",
	"policy.keyEnv", "key",
	"*policy.env", "the environment",
	"policy.env", "the environment",
	"*string", "text or nil",
	"error parsing regexp: ", "not a valid regular expression: ",
)
