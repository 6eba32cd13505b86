package localtasks

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
	// ExtendTimeout: a task can extend its attempt's timeout
	// (ExtendTimeout).
	ExtendTimeout bool
	// Limits: concurrency and rate limits, debounce and cooldown.
	Limits bool
	// Perpetual: perpetual and cron tasks.
	Perpetual bool
	// MaxQueued: a bound on the queued runs (Config.MaxQueued), with
	// ErrQueueFull and WithWaitForRoom.
	MaxQueued bool
	// Pause: queues and tasks can be paused and resumed (Pauser), and
	// queues given workers of their own (Config.QueueWorkers).
	Pause bool
	// PauseQueues: queues can be paused and resumed (Pauser); Pause says
	// tasks can be too, and that queues can have workers of their own.
	PauseQueues bool
	// Tags: runs carry tags and metadata (WithTags, WithMetadata,
	// SetMetadata) on their results and events, and Snapshot lists them
	// by those (SnapshotOptions.Tag and Metadata).
	Tags bool
	// Deadline: a run not started by its deadline ends CANCELLED
	// (WithDeadline, WithStartWithin).
	Deadline bool
	// DiscardResult: a run can keep no result once it has finished
	// (WithDiscardResult).
	DiscardResult bool
}

// checkRequest reports what is wrong with a request to enqueue a run of
// task with args and opts on the backend that messages call backend (a
// label: `backend "x"`, or "the thread pool"), with capabilities
// caps and queues queues (nil for just QueueDefault): an error matching
// ErrInvalidTask, or errors.ErrUnsupported for an option caps lacks. It sets
// opts.Queue to QueueDefault if empty. Every backend checks requests with
// it, those outside the package through backendkit.CheckRequest.
func checkRequest(backend string, caps Capabilities, queues []string, task Definition, args any, opts *Options) error {
	if task == nil {
		return fmt.Errorf("localtasks: enqueue of a nil task: pass a Task's Definition(): %w", ErrInvalidTask)
	}
	name := task.Name()
	if opts.Queue == "" {
		opts.Queue = QueueDefault
	}
	if err := opts.validate(); err != nil {
		return fmt.Errorf("localtasks: enqueue %q: %v: %w", name, err, ErrInvalidTask)
	}
	if len(queues) == 0 {
		queues = []string{QueueDefault}
	}
	if !slices.Contains(queues, opts.Queue) {
		return fmt.Errorf("localtasks: enqueue %q: queue %q is not one of %s's queues %q: add it to the backend's queues (Config.Queues) or use one of those: %w",
			name, opts.Queue, backend, queues, ErrInvalidTask)
	}
	if err := caps.check(backend, name, opts); err != nil {
		return err
	}
	return task.checkArgs(args)
}

// check reports the first thing opts asks for that c does not support.
func (c Capabilities) check(backend string, task string, opts *Options) error {
	unsupported := func(what, option string) error {
		return fmt.Errorf("localtasks: task %q: %s does not support %s: remove %s or use a backend that does: %w",
			task, backend, what, option, errors.ErrUnsupported)
	}
	switch {
	case !c.Defer && (!opts.RunAt.IsZero() || opts.Delay > 0):
		return unsupported("run-after times", "WithRunAt/WithDelay")
	case !c.Priority && opts.Priority != 0:
		return unsupported("priorities", "WithPriority")
	case !c.Retry && opts.Retry.retries():
		return unsupported("retries", "WithRetry")
	case !c.Timeout && opts.Timeout > 0:
		return unsupported("timeouts", "WithTimeout")
	case !c.Limits && opts.hasLimits():
		return unsupported("limits", "WithConcurrencyLimit, WithRateLimit, WithDebounce and WithCooldown")
	case !c.Perpetual && opts.Perpetual.enabled():
		return unsupported("perpetual tasks", "WithPerpetual and WithCron")
	case !c.Deadline && opts.hasDeadline():
		return unsupported("deadlines", "WithDeadline and WithStartWithin")
	case !c.DiscardResult && opts.DiscardResult:
		return unsupported("keeping no result", "WithDiscardResult")
	case !c.Tags && (len(opts.Tags) > 0 || len(opts.Metadata) > 0):
		return unsupported("tags and metadata", "WithTags and WithMetadata")
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
	// checkCodec reports whether the argument and result types can cross
	// to another process whole: the process pool's check, once a task.
	checkCodec() error
	definedAfterInit() bool
	// The process pool's codec: each value gob-encoded on its own.
	encodeArgs(args any) ([]byte, error)
	decodeArgs(b []byte) (any, error)
	encodeResult(v any) ([]byte, error)
	decodeResult(b []byte) (any, error)
}

// Disposition says what Enqueue did with a request, as Docket's add does.
type Disposition uint8

// The dispositions. The zero Disposition is not one of them.
const (
	// Enqueued: a new run was queued or scheduled.
	Enqueued Disposition = iota + 1
	// AlreadyEnqueued: a run of the task with the same key is queued,
	// scheduled or running. Nothing was enqueued; the receipt (and handle)
	// is that run's.
	AlreadyEnqueued
	// Replaced: a new run was enqueued in place of a queued or scheduled
	// run of the same key (Replace) or of the same debounce group
	// (WithDebounce). That run ended CANCELLED without running.
	Replaced
	// Struck: a strike matches the request. The run was made and ended
	// CANCELLED at once, with the strike as its reason; nothing was queued.
	Struck
	// Dropped: a cooldown dropped the request (WithCooldown). The run was
	// made and ended CANCELLED at once, with the reason; nothing was queued.
	Dropped
)

var dispositionNames = [...]string{"unknown", "enqueued", "already enqueued", "replaced", "struck", "dropped"}

// String returns the disposition's name, such as "already enqueued".
func (d Disposition) String() string {
	if int(d) < len(dispositionNames) {
		return dispositionNames[d]
	}
	return fmt.Sprintf("Disposition(%d)", uint8(d))
}

// Receipt is what Backend.Enqueue returns: the ID of the run the request
// ended up with, and what became of the request.
type Receipt struct {
	// ID is the run's ID: the new run's, or for AlreadyEnqueued the
	// existing run's.
	ID string
	// Disposition says whether a run was enqueued, and if not, why.
	Disposition Disposition
}

// The optional interfaces: what a Backend may offer beyond Backend, one
// small interface a capability, as database/sql/driver's Pinger is an
// optional interface of a Conn. Every backend of this package implements
// them all (Controller); code that takes a Backend checks for the ones it
// uses, as the dashboard does, so that a backend with only some serves.

// Subscriber is a Backend that delivers its events.
type Subscriber interface {
	// Subscribe returns a subscription to the backend's events that may
	// fall buffer events behind the newest before it loses the oldest;
	// zero or less means SubscribeBufferDefault. See Subscription for the
	// order of delivery and what a slow reader sees.
	Subscribe(buffer int) *Subscription
}

// Striker is a Backend that can block runs by a rule; see Strike.
type Striker interface {
	// Strike blocks runs that match st.
	Strike(st Strike) error
	// Restore lifts a strike given earlier, matched by its task, field,
	// operator and values.
	Restore(st Strike) error
	// Strikes lists the strikes in force.
	Strikes() []Strike
}

// Snapshotter is a Backend that can describe its runs and workers.
type Snapshotter interface {
	// Snapshot describes the backend's workers, counters and strikes now,
	// and lists a page of the runs opts selects.
	Snapshot(ctx context.Context, opts SnapshotOptions) (Snapshot, error)
	// Counters returns the backend's counters; cheaper than Snapshot.
	Counters() Counters
}

// Drainer is a Backend that can wait for its runs to finish.
type Drainer interface {
	// Drain blocks until no run is queued, scheduled or running, or ctx
	// ends.
	Drain(ctx context.Context) error
}

// Controller is a Backend with every optional interface, as each backend of
// this package is.
type Controller interface {
	Backend
	Subscriber
	Striker
	Snapshotter
	Drainer
	IDFinder
	Pauser
	BatchEnqueuer
	Watcher
}
