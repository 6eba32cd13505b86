package localtasks

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Backend runs tasks and keeps their results. ThreadPoolBackend,
// ProcessPoolBackend, ImmediateBackend and RecordingBackend implement it;
// typed code calls it through Task.Enqueue and Task.GetResult rather than
// directly.
//
// Every method is safe for concurrent use.
type Backend interface {
	// Name returns the name the backend was built under; "" for a
	// private one.
	Name() string

	// Capabilities says what the backend supports. Enqueue refuses a
	// request that needs something it does not.
	Capabilities() Capabilities

	// Enqueue validates a run of task with args and opts, queues it, and
	// returns a receipt with the new run's ID. A key, a strike or a limit
	// may stop it short: the receipt's Disposition says so, and for
	// AlreadyEnqueued holds the existing run's ID. On error nothing was
	// queued. opts are the
	// run's whole options: the task's defaults are not applied over them;
	// start from task.Options() to keep them (Task.Enqueue does).
	// ctx bounds the call, not the run: a run does not inherit it.
	Enqueue(ctx context.Context, task Definition, args any, opts Options) (Receipt, error)

	// GetResult returns a snapshot of the run with that ID. An unknown or
	// evicted ID gives an error matching ErrResultNotFound.
	GetResult(ctx context.Context, id string) (TaskResult, error)

	// Wait blocks until the run with that ID has finished, or ctx ends,
	// and returns its snapshot.
	Wait(ctx context.Context, id string) (TaskResult, error)

	// Cancel cancels a run. A queued or scheduled run is taken off its
	// queue and ends CANCELLED at once; a running one has its ctx cancelled
	// and ends CANCELLED once it returns, whatever it returns. Cancelling a
	// finished run gives an error matching ErrFinished, unless it was
	// cancelled already.
	Cancel(ctx context.Context, id string) error

	// Close stops the backend taking tasks; see each backend for what
	// becomes of the tasks it holds. Closing twice is not an error.
	Close(ctx context.Context) error
}

// Capabilities says what a Backend supports, like Django's supports_*
// flags. Enqueue fails with an error matching errors.ErrUnsupported when a
// request needs a capability the backend lacks.
type Capabilities struct {
	// Defer: runs can wait for a run-after time or delay.
	Defer bool
	// Priority: ready runs start in priority order.
	Priority bool
	// GetResult: results can be fetched later by ID.
	GetResult bool
	// Cancel: queued and scheduled runs can be cancelled.
	Cancel bool
	// CancelRunning: running attempts can be cancelled through their ctx.
	CancelRunning bool
	// Retry: failed attempts are retried by the task's RetryPolicy.
	Retry bool
	// Timeout: attempts can be bounded by a timeout.
	Timeout bool
	// Limits: concurrency and rate limits, debounce and cooldown.
	Limits bool
	// Perpetual: perpetual and cron tasks.
	Perpetual bool
}

// check reports the first thing opts asks for that c does not support.
func (c Capabilities) check(backend string, task string, opts *Options) error {
	unsupported := func(what, option string) error {
		return fmt.Errorf("localtasks: task %q: backend %q does not support %s: remove %s or use a backend that does: %w",
			task, backend, what, option, errors.ErrUnsupported)
	}
	switch {
	case !c.Defer && (!opts.RunAt.IsZero() || opts.Delay > 0):
		return unsupported("run-after times", "WithRunAt/WithDelay")
	case !c.Priority && opts.Priority != 0:
		return unsupported("priorities", "WithPriority")
	case !c.Retry && opts.Retry.MaxAttempts > 1:
		return unsupported("retries", "WithRetry")
	case !c.Timeout && opts.Timeout > 0:
		return unsupported("timeouts", "WithTimeout")
	case !c.Limits && opts.hasLimits():
		return unsupported("limits", "WithConcurrencyLimit, WithRateLimit, WithDebounce and WithCooldown")
	case !c.Perpetual && opts.Perpetual.enabled():
		return unsupported("perpetual tasks", "WithPerpetual and WithCron")
	}
	return nil
}

// Definition is the untyped view of a task that backends work with: a name
// in the process-wide registry, default options, and a function of any.
// Only Define and NewTask make Definitions.
type Definition interface {
	// Name returns the task's registered name.
	Name() string
	// Options returns the task's default options.
	Options() Options
	// ArgsType and ResultType return the Go types of the task's argument
	// and result.
	ArgsType() reflect.Type
	ResultType() reflect.Type
	// Call runs the task function with args, which must be of ArgsType.
	Call(ctx context.Context, args any) (any, error)

	definedAt() string
	checkArgs(args any) error
	zeroArgs() any
	// The process pool's codec: each value gob-encoded on its own.
	encodeArgs(args any) ([]byte, error)
	decodeArgs(b []byte) (any, error)
	encodeResult(v any) ([]byte, error)
	decodeResult(b []byte) (any, error)
}
