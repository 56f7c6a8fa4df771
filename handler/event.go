package handler

import "github.com/tagwarden/tagwarden/policy"

// evaluate plans one key's changes: under the event that named the key when
// the request is a key event carrying one (Request.Events), else with no
// event, as in a sweep.
func (r *run) evaluate(id string, k policy.Key, tags map[string]string) policy.Decision {
	if ev, ok := r.req.Events[id]; ok && r.req.Mode == ModeKeys {
		return r.h.engine.EvaluateEvent(k, tags, r.now, &ev)
	}
	return r.h.engine.Evaluate(k, tags, r.now)
}
