package policy

import "time"

// Event is what the event that named a key says about the call behind it:
// for a CTS audit trace, the operation, who made the call and from where.
// Expressions read it as `event`: event.operation, event.user.name,
// event.user.id, event.source_ip. A field that is empty here is nil there,
// and every field is nil when there is no event (sweeps, manual checks), so
// that `event.user.name ?? "unassigned"` falls back.
type Event struct {
	// Operation is the audited call, the trace's trace_name (e.g. createKey).
	Operation string `json:"operation,omitempty"`
	// UserName and UserID are the trace's user.name and user.id: who made
	// the call.
	UserName string `json:"user_name,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	// SourceIP is the trace's source_ip: where the call came from.
	SourceIP string `json:"source_ip,omitempty"`
}

// userEnv is event.user as expressions see it.
type userEnv struct {
	Name *string `expr:"name"`
	ID   *string `expr:"id"`
}

// eventEnv is the event as expressions see it: text fields are nil when
// unknown, so that ?? gives a fallback and comparisons are simply false.
type eventEnv struct {
	Operation *string `expr:"operation"`
	User      userEnv `expr:"user"`
	SourceIP  *string `expr:"source_ip"`
}

// set points the env's fields at ev's non-empty fields (nil ev: no event).
// ev must stay unchanged while the env is in use.
func (e *eventEnv) set(ev *Event) {
	*e = eventEnv{}
	if ev == nil {
		return
	}
	e.Operation = nonEmpty(&ev.Operation)
	e.User.Name = nonEmpty(&ev.UserName)
	e.User.ID = nonEmpty(&ev.UserID)
	e.SourceIP = nonEmpty(&ev.SourceIP)
}

func nonEmpty(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// EvaluateEvent is Evaluate for a key named by an event: expressions also
// see the event's fields (event.operation, event.user.name, ...). A nil ev
// is no event, as for Evaluate. The decision depends only on the key, its
// tags, now and the event.
func (e *Engine) EvaluateEvent(k Key, tags map[string]string, now time.Time, ev *Event) Decision {
	st := e.get()
	defer e.put(st)
	if ev != nil {
		own := *ev // the env points into it for the whole evaluation
		st.env.Event.set(&own)
	}
	return e.plan(st, k, tags, now)
}
