package policy

import (
	"maps"
	"sort"
	"time"
)

// Key is what a policy sees of a KMS key (a customer master key): its
// attributes in plain words, decoded from the API's strings by the KMS adapter.
type Key struct {
	ID                string    `json:"id"`
	Alias             string    `json:"alias"`
	State             string    `json:"state"`  // pending_activation, enabled, disabled, pending_deletion, pending_import (or "unknown")
	Spec              string    `json:"spec"`   // AES_256, SM4, RSA_2048, ...
	Usage             string    `json:"usage"`  // ENCRYPT_DECRYPT, SIGN_VERIFY
	Origin            string    `json:"origin"` // kms, external
	Created           time.Time `json:"created"`
	Default           bool      `json:"default"` // a service's default key (alias ending in /default); never tagged
	Description       string    `json:"description"`
	EnterpriseProject string    `json:"enterprise_project"`
	Keystore          string    `json:"keystore"`
	RotationEnabled   bool      `json:"rotation_enabled"`
}

// Key states as words, decoded from the API's key_state "1".."5".
const (
	StatePendingActivation = "pending_activation"
	StateEnabled           = "enabled"
	StateDisabled          = "disabled"
	StatePendingDeletion   = "pending_deletion"
	StatePendingImport     = "pending_import"
)

// Tag is one tag of a key.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Action is the action of one BatchCreateKmsTags call.
type Action string

// The two actions BatchCreateKmsTags accepts.
const (
	ActionCreate Action = "create"
	ActionDelete Action = "delete"
)

// Batch is the body of one BatchCreateKmsTags call: one action over at most
// the configured number of tags.
type Batch struct {
	Action Action `json:"action"`
	Tags   []Tag  `json:"tags"`
}

// Violation is one way a key breaks a policy. It is a result, never an error.
type Violation struct {
	Policy  string `json:"policy"`
	Rule    string `json:"rule"`          // the rule's short form, e.g. "require owner"
	Tag     string `json:"tag,omitempty"` // the tag key concerned, when there is one
	Message string `json:"message"`
	// Remediated is true when the planned changes fix this violation; false
	// for report-only policies, conflicts and values that cannot be written.
	Remediated bool `json:"remediated"`
	// Due is set for a violation held back by its rule's grace period: the
	// date (YYYY-MM-DD, UTC) from which a run fixes it, as recorded in the
	// due tag (DueTag).
	Due string `json:"due,omitempty"`
	// Notify is who is responsible for the violation: the value of its
	// policy's notify expression for the key (trimmed), the same on every
	// violation of that policy; "" when the policy has no notify or it
	// names no one. Notifications route on it.
	Notify string `json:"notify,omitempty"`
}

// Decision is the outcome of evaluating every policy against one key: what
// is wrong, and the exact tag changes that fix what can be fixed.
type Decision struct {
	KeyID      string      `json:"key_id"`
	Violations []Violation `json:"violations,omitempty"`
	// Create holds tags to create or overwrite, sorted by key.
	Create []Tag `json:"create,omitempty"`
	// Delete holds tags to delete (with their current values), sorted by key.
	Delete []Tag `json:"delete,omitempty"`
	// Exemptions lists the entries of the exemptions file that name the
	// key: those not expired exempt it from their policies.
	Exemptions []ExemptionMatch `json:"exemptions,omitempty"`
}

// Compliant reports whether the key breaks no policy.
func (d Decision) Compliant() bool { return len(d.Violations) == 0 }

// HasChanges reports whether any tag would be written.
func (d Decision) HasChanges() bool { return len(d.Create)+len(d.Delete) > 0 }

// Apply returns a new map: tags as they are once d's changes are written.
// tags is not modified.
func (d Decision) Apply(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags)+len(d.Create))
	maps.Copy(out, tags)
	for _, t := range d.Delete {
		delete(out, t.Key)
	}
	for _, t := range d.Create {
		out[t.Key] = t.Value
	}
	return out
}

// Batches groups the changes the way BatchCreateKmsTags takes them: deletes
// first (so that creates never overflow the per-key tag limit), then creates,
// each split into calls of at most max tags (max < 1 means 10).
func (d Decision) Batches(max int) []Batch {
	if max < 1 {
		max = 10
	}
	var out []Batch
	for _, part := range []struct {
		action Action
		tags   []Tag
	}{{ActionDelete, d.Delete}, {ActionCreate, d.Create}} {
		tags := append([]Tag(nil), part.tags...)
		sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
		for len(tags) > 0 {
			n := min(max, len(tags))
			out = append(out, Batch{Action: part.action, Tags: tags[:n:n]})
			tags = tags[n:]
		}
	}
	return out
}
