package handler

// ModeFanout is the mode of a report that dispatched a sweep to several
// targets (Report.Targets) instead of sweeping: the invocation answers it;
// the handler never serves it.
const ModeFanout Mode = "fanout"

// Counts are a report's key counts.
type Counts struct {
	Scanned   int `json:"scanned"`
	Compliant int `json:"compliant"`
	Changed   int `json:"changed"`
	Planned   int `json:"planned"`
	Violating int `json:"violating"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Policies counts violating keys per policy (see Report.Policies).
	Policies map[string]int `json:"policies,omitempty"`
}

// Counts returns the report's own key counts.
func (r Report) Counts() Counts {
	return Counts{Scanned: r.Scanned, Compliant: r.Compliant, Changed: r.Changed, Planned: r.Planned,
		Violating: r.Violating, Failed: r.Failed, Skipped: r.Skipped, Policies: addPolicies(nil, r.Policies)}
}

// Add returns c plus d.
func (c Counts) Add(d Counts) Counts {
	return Counts{Scanned: c.Scanned + d.Scanned, Compliant: c.Compliant + d.Compliant, Changed: c.Changed + d.Changed,
		Planned: c.Planned + d.Planned, Violating: c.Violating + d.Violating, Failed: c.Failed + d.Failed, Skipped: c.Skipped + d.Skipped,
		Policies: addPolicies(addPolicies(nil, c.Policies), d.Policies)}
}

// addPolicies adds the counts of b to a (allocated when nil and b has
// some) and returns it.
func addPolicies(a, b map[string]int) map[string]int {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]int, len(b))
	}
	for p, n := range b {
		a[p] += n
	}
	return a
}

// OutputReport is what one output did at the end of an invocation: what
// was sent (a stored object, a notification, metric data) to where, and
// whether it failed.
type OutputReport struct {
	// Output is the service: "obs", "smn" or "ces".
	Output string `json:"output"`
	// What was sent: "report", "summary", "page", "state", "latest",
	// "notification", "metrics"; "read" for what the run read back.
	What string `json:"what"`
	// Where: an object's location (obs://bucket/key), a topic URN, a
	// metric namespace.
	Where string `json:"where"`
	// OK is true when it was sent; Skipped with Reason when there was
	// nothing to send (a notification with nothing new).
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Attempts counts the calls made (retries included).
	Attempts int `json:"attempts,omitempty"`
	// Items counts what was sent: findings listed in a notification,
	// metric data points, bytes of an object.
	Items int64 `json:"items,omitempty"`
	// ID is the service's id of what was sent (the message id).
	ID string `json:"id,omitempty"`
	// Error says why it failed, with Code the service's error code.
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// Chain states: what became of a target's sweep after one link.
const (
	// ChainContinued: the next link was dispatched with the continuation.
	ChainContinued = "continued"
	// ChainDone: the sweep is finished; every key was decided.
	ChainDone = "done"
	// ChainLimit: the link was the last the chain allows (max chain): the
	// sweep is not finished; the report's continuation resumes it.
	ChainLimit = "chain_limit"
	// ChainDispatchFailed: the next link could not be dispatched: the sweep
	// is not finished; the report's continuation resumes it.
	ChainDispatchFailed = "dispatch_failed"
	// ChainCut: cut with no self-continuation configured.
	ChainCut = "cut"
	// ChainFailed: the link failed as a whole (Report.Error).
	ChainFailed = "failed"
	// ChainDuplicate: a second delivery of a link already served: nothing
	// was done and nothing dispatched.
	ChainDuplicate = "duplicate"
	// ChainRefused: the request was refused (a continuation that does not
	// verify, a target outside the configured set): nothing was done.
	ChainRefused = "refused"
)

// ChainReport says what became of a target's sweep after one link.
type ChainReport struct {
	// State is one of the Chain constants.
	State string `json:"state"`
	// NextLink is the number of the link dispatched (ChainContinued) or
	// that could not be (ChainLimit, ChainDispatchFailed, ChainCut). A link
	// that restarted its target's sweep (a stale continuation) says so in
	// the report's warnings, whatever its state.
	NextLink int `json:"next_link,omitempty"`
	// RequestID is the platform's id of the dispatched invocation.
	RequestID string `json:"request_id,omitempty"`
	// Reason says why, for every state but continued and done.
	Reason string `json:"reason,omitempty"`
}

// TargetReport is what a fan-out did for one target.
type TargetReport struct {
	// Target is the target's name (region/project).
	Target string `json:"target"`
	// Dispatched is true when its first link was invoked.
	Dispatched bool `json:"dispatched"`
	// RequestID is the platform's id of that invocation.
	RequestID string `json:"request_id,omitempty"`
	// Error says why the target was not dispatched.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Error.
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
}
