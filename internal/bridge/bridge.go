// Package bridge gives package backendkit what it needs of localtasks'
// unexported machinery, without exporting it from localtasks, the way
// google.golang.org/grpc/internal does for grpc's sub-packages: localtasks
// sets these variables as it is initialised, which is before any package
// that imports it (backendkit among them) is.
//
// Each holds a func whose signature names localtasks' types, which this
// package cannot name (localtasks imports it); backendkit asserts each to
// its type once.
package bridge

var (
	// CheckRequest is func(backend string, caps localtasks.Capabilities,
	// queues []string, task localtasks.Definition, args any,
	// opts *localtasks.Options) error.
	CheckRequest any
	// WithCause is func(te localtasks.TaskError, err error)
	// localtasks.TaskError: te, unwrapping to err.
	WithCause any
	// NewBroadcaster is func() any, returning a new broadcaster with the
	// methods of backendkit.Broadcaster.
	NewBroadcaster any
	// Judge is func(p localtasks.RetryPolicy, attempt, maxAttempts int,
	// err error, now time.Time) (final bool, retryAt time.Time, snoozed
	// bool, described error): backendkit.Judge.
	Judge any
	// CompileStrike is func(st localtasks.Strike) (any, error): st checked
	// as a backend's Strike checks it, and readied for MatchStrike and
	// SameStrike.
	CompileStrike any
	// MatchStrike is func(rule any, task localtasks.Definition, args any)
	// bool: whether the rule CompileStrike made strikes a run of task with
	// args.
	MatchStrike any
	// SameStrike is func(a, b any) bool: whether two rules CompileStrike
	// made strike the same runs by the same rule.
	SameStrike any
	// NewRunLogs is func(cfg localtasks.RunLogs) any, returning a run's
	// empty logs bounded by cfg, with the methods of backendkit.RunLogs.
	NewRunLogs any
)
