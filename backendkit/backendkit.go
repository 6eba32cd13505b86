// Package backendkit is for authors of localtasks backends built outside
// the module's root package, such as the River adapter (adapters/river):
// what they need to run, check and report tasks the way localtasks' own
// backends do, and nothing more. Most code should use package localtasks
// alone, as most code uses database/sql and not database/sql/driver.
package backendkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/bridge"
	"github.com/localtasks/localtasks/internal/cron"
	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/taskctx"
	"github.com/localtasks/localtasks/internal/wire"
)

// The functions localtasks hands over through internal/bridge, asserted
// once: localtasks is initialised before this package is.
var (
	checkRequest   = bridge.CheckRequest.(func(string, localtasks.Capabilities, []string, localtasks.Definition, any, *localtasks.Options) error)
	withCause      = bridge.WithCause.(func(localtasks.TaskError, error) localtasks.TaskError)
	newBroadcaster = bridge.NewBroadcaster.(func() any)
	judge          = bridge.Judge.(func(localtasks.RetryPolicy, int, int, error, time.Time) (bool, time.Time, bool, error))
	compileStrike  = bridge.CompileStrike.(func(localtasks.Strike) (any, error))
	matchStrike    = bridge.MatchStrike.(func(any, localtasks.Definition, any) bool)
	sameStrike     = bridge.SameStrike.(func(any, any) bool)
	newRunLogs     = bridge.NewRunLogs.(func(localtasks.RunLogs) any)
)

// ErrorMatch is a registered error (localtasks.RegisterErrors,
// RegisterErrorType) that a task's error matched, as data a backend can
// store with the attempt's error and read back in another process.
type ErrorMatch struct {
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"` // the typed error gob-encoded; nil for a sentinel
}

// MatchErrors returns the registered errors err matches, for a backend to
// store with a failed attempt.
func MatchErrors(err error) []ErrorMatch {
	ms := failure.Matches(err)
	if len(ms) == 0 {
		return nil
	}
	out := make([]ErrorMatch, len(ms))
	for i, m := range ms {
		out[i] = ErrorMatch{Key: m.Key, Value: m.Value}
	}
	return out
}

// RebuildErrors returns the errors ms name, as this process registered
// them, joined: the cause to give NewTaskError, so that errors.Is and
// errors.As match the TaskError as they did the task's error. It returns
// nil for none.
func RebuildErrors(ms []ErrorMatch) error {
	if len(ms) == 0 {
		return nil
	}
	wm := make([]wire.Match, len(ms))
	for i, m := range ms {
		wm[i] = wire.Match{Key: m.Key, Value: m.Value}
	}
	return errors.Join(failure.Rebuild(wm)...)
}

// Verdict is how a failed attempt ends, as Judge decides it.
type Verdict struct {
	// Final: no attempt follows; the run fails with Err. A Permanent
	// error, MaxAttempts spent, or the policy's Decide said so.
	Final bool
	// Snooze: the task returned localtasks.Snooze or SnoozeUntil. The run
	// goes again at At, and the attempt counts as no failure.
	Snooze bool
	// At is when the next attempt is due: the retry's time, or the
	// snooze's.
	At time.Time
	// Err is the error to record: a Permanent error's unwrapped, the
	// panic of a Decide added.
	Err error
}

// Judge decides how the attempt number attempt (from 1, snoozes not
// counted) of a run with policy p, which failed with err at now, ends, as
// localtasks' own backends decide: Permanent, Snooze, MaxAttempts (of
// which maxAttempts is the number, RetryForever resolved by the caller), and
// the policy's Decide. The policy's Decide is the caller's to restore from
// the task's definition, as a function does not travel.
func Judge(p localtasks.RetryPolicy, attempt, maxAttempts int, err error, now time.Time) Verdict {
	final, at, snooze, described := judge(p, attempt, maxAttempts, err, now)
	return Verdict{Final: final, Snooze: snooze, At: at, Err: described}
}

// TaskInfo describes one attempt of a task run by a backend, for
// WithTaskInfo.
type TaskInfo struct {
	// ID is the run's ID, Task its task's name, and Attempt the attempt's
	// number, from 1.
	ID      string
	Task    string
	Attempt int
	// Logger is the backend's logger; localtasks.Logger(ctx) adds the
	// attempt's attributes to it. Nil means slog.Default().
	Logger *slog.Logger
	// Progress receives the task's SetProgress reports; nil drops them.
	Progress func(done, total int64, message string)
	// Metadata receives the pairs the task sets with SetMetadata, checked
	// already against WithMetadata's rules; nil drops them.
	Metadata func(key, value string)
	// ExtendTimeout moves the attempt's timeout by d, for
	// localtasks.ExtendTimeout; nil means the backend cannot.
	ExtendTimeout func(d time.Duration) error
	// Unchained, for a run of a perpetual task that has no successor to
	// shape (a River periodic job's run, which the job's schedule
	// follows), says why and what to do: localtasks.StopPerpetual,
	// SetNextRun and SetNextArgs fail with it and errors.ErrUnsupported.
	// Leave it empty otherwise.
	Unchained string
	// Capture, if set, returns the handler that keeps the records the
	// attempt writes through localtasks.Logger(ctx) on its run, such as a
	// RunLogs' Handler: the attempt's Logger tees its records to it, after
	// the backend's Logger, with the attributes of the ctx's Logger left
	// out. It is called at the attempt's first Logger(ctx), and so never
	// for an attempt that logs nothing; two goroutines that ask for the
	// first Logger at once may both call it, and one handler is kept. Nil
	// keeps none.
	Capture func() slog.Handler
}

// WithTaskInfo returns a ctx derived from parent that answers
// localtasks.TaskID, TaskName, Attempt, Logger, SetProgress, SetMetadata,
// ExtendTimeout and, with info.Unchained, StopPerpetual, SetNextRun and
// SetNextArgs for the attempt info describes, as the ctx of an attempt on
// a ThreadPoolBackend does. Its deadline, cancellation and values are parent's;
// localtasks.Cause reports context.Cause(parent). Pass it to
// Definition.Call.
func WithTaskInfo(parent context.Context, info TaskInfo) context.Context {
	ti := taskctx.Info{ID: info.ID, Task: info.Task, Number: info.Attempt, Logger: info.Logger}
	if p, m, e, c := info.Progress, info.Metadata, info.ExtendTimeout, info.Capture; p != nil || m != nil || e != nil || c != nil || info.Unchained != "" {
		ti.Hooks = &taskctx.Hooks{Unchained: info.Unchained}
		if c != nil {
			ti.Hooks.Capture = func(*taskctx.Ctx) slog.Handler { return c() }
		}
		if e != nil {
			ti.Hooks.Extend = func(_ *taskctx.Ctx, d time.Duration) error { return e(d) }
		}
		if p != nil {
			ti.Hooks.Report = func(_ *taskctx.Ctx, done, total int64, message string) { p(done, total, message) }
		}
		if m != nil {
			ti.Hooks.Metadata = func(_ *taskctx.Ctx, key, value string) { m(key, value) }
		}
	}
	return taskctx.Attach(parent, taskctx.New(ti))
}

// RunLogs keeps the log records of one run within the bounds of a
// localtasks.RunLogs, as localtasks' own backends keep TaskResult.Logs and
// LogsDropped: all its attempts together, up to MaxRecords records and
// MaxBytes bytes of messages and attributes, a message longer than a
// quarter of MaxBytes cut (LogRecord.Cut); when they are full, the records
// of earlier attempts, oldest first, make room for the current attempt's,
// and within an attempt the first records are kept and the later dropped,
// and counted. It is for a backend that stores a run's logs itself. Its
// methods are safe for concurrent use.
type RunLogs struct{ l runLogs }

// runLogs is the methods of localtasks' own.
type runLogs interface {
	Add(r localtasks.LogRecord)
	AddDropped(n int)
	Handler(attempt int) slog.Handler
	Records() ([]localtasks.LogRecord, int)
}

// NewRunLogs returns empty logs bounded by cfg, whose zero MaxRecords and
// MaxBytes mean localtasks.RunLogsMaxRecords and RunLogsMaxBytes. It does
// not look at cfg.Off: a backend that keeps no logs makes none.
func NewRunLogs(cfg localtasks.RunLogs) *RunLogs { return &RunLogs{l: newRunLogs(cfg).(runLogs)} }

// Add adds r, as it is, within the bounds: for the records of a run's
// earlier attempts, stored and read back, oldest first, before the
// current attempt's.
func (l *RunLogs) Add(r localtasks.LogRecord) { l.l.Add(r) }

// AddDropped adds n to the count of records left out: those an earlier
// reading of the run's logs counted.
func (l *RunLogs) AddDropped(n int) { l.l.AddDropped(n) }

// Handler returns the handler that keeps what attempt number attempt
// writes, for TaskInfo.Capture: records at cfg.Level and above, their
// groups flattened into dotted keys and values printed.
func (l *RunLogs) Handler(attempt int) slog.Handler { return l.l.Handler(attempt) }

// Records returns the records kept, oldest first, and how many were left
// out. The slice is shared: do not modify it.
func (l *RunLogs) Records() ([]localtasks.LogRecord, int) { return l.l.Records() }

// NewTimeoutError returns the error of an attempt that ran past its timeout
// of after, as localtasks' backends report it: it matches
// localtasks.ErrTimeout and context.DeadlineExceeded, says "timed out
// after" and after, and unwraps to returned, what the task returned (nil
// for nothing).
func NewTimeoutError(after time.Duration, returned error) error {
	return &taskctx.TimeoutError{After: after, Returned: returned}
}

// NewTaskError returns te, the TaskError of a failed attempt that a backend
// stored, unwrapping to err (nil for nothing), so that errors.Is and
// errors.As see through it as they do through localtasks' own.
func NewTaskError(te localtasks.TaskError, err error) localtasks.TaskError {
	return withCause(te, err)
}

// Request is a request to enqueue a run, for CheckRequest.
type Request struct {
	// Backend is the backend's name, for messages.
	Backend string
	// Capabilities are the backend's.
	Capabilities localtasks.Capabilities
	// Queues are the backend's queues; nil for just localtasks.QueueDefault.
	Queues []string
	// Task, Args and Options are what Backend.Enqueue was given.
	Task    localtasks.Definition
	Args    any
	Options *localtasks.Options
}

// CheckRequest reports what is wrong with r as localtasks' own backends
// check a request: an error matching localtasks.ErrInvalidTask, or
// errors.ErrUnsupported for an option the backend's capabilities lack. It
// sets r.Options.Queue to localtasks.QueueDefault if empty.
func CheckRequest(r Request) error {
	opts := r.Options
	if opts == nil {
		opts = new(localtasks.Options)
	}
	return checkRequest(r.Backend, r.Capabilities, r.Queues, r.Task, r.Args, opts)
}

// Broadcaster delivers a backend's events to its Subscriptions as
// localtasks' own backends do: in order, from one ring that every
// subscription reads at its own pace, never blocking the publisher, and
// counting what a subscriber read too late. It is for implementing
// localtasks.Subscriber.
// The zero value is not usable; call NewBroadcaster.
type Broadcaster struct{ b broadcaster }

// broadcaster is the methods of localtasks' own broadcaster.
type broadcaster interface {
	Subscribe(buffer int) *localtasks.Subscription
	Publish(ev localtasks.Event)
	Subscribed() bool
	Close()
}

// NewBroadcaster returns a Broadcaster with no subscribers.
func NewBroadcaster() *Broadcaster { return &Broadcaster{b: newBroadcaster().(broadcaster)} }

// Subscribe returns a new subscription that may fall buffer events behind
// the newest (localtasks.SubscribeBufferDefault if buffer is 0 or less)
// before it loses the oldest; once the Broadcaster is closed, one that is
// closed at once.
func (b *Broadcaster) Subscribe(buffer int) *localtasks.Subscription { return b.b.Subscribe(buffer) }

// Publish adds ev to the ring the subscriptions read, and wakes those
// waiting; its cost does not depend on the number of subscribers.
func (b *Broadcaster) Publish(ev localtasks.Event) { b.b.Publish(ev) }

// Subscribed reports whether anyone is subscribed, so that a backend can
// skip building events nobody reads.
func (b *Broadcaster) Subscribed() bool { return b.b.Subscribed() }

// Close ends every subscription once it has read the events published
// before. Closing twice is safe.
func (b *Broadcaster) Close() { b.b.Close() }

// StrikeRule is a localtasks.Strike checked against the tasks defined, as
// localtasks' own backends check a Strike, and readied to match runs: for
// a backend that keeps strikes itself (localtasks.Striker) and must apply
// them as the others do.
type StrikeRule struct {
	st localtasks.Strike
	r  any
}

// CompileStrike checks st by the rules of localtasks.Strike: its task must
// be defined, its field one of the task's argument (or, for a strike
// without a task, of at least one task's), its operator known and its
// values of the field's type. It returns an error matching
// localtasks.ErrInvalidTask that says what to fix. A strike without a task
// is checked against the tasks defined now, and matches tasks defined
// later too.
func CompileStrike(st localtasks.Strike) (*StrikeRule, error) {
	r, err := compileStrike(st)
	if err != nil {
		return nil, err
	}
	return &StrikeRule{st: st, r: r}, nil
}

// Strike returns the strike r was compiled from, as it was given.
func (r *StrikeRule) Strike() localtasks.Strike { return r.st }

// Matches reports whether r strikes a run of task with args, as
// localtasks' backends decide it at enqueue and before a run starts. Its
// cost is a field read and a comparison; the first call for a task of a
// strike without one also looks the field up.
func (r *StrikeRule) Matches(task localtasks.Definition, args any) bool {
	return matchStrike(r.r, task, args)
}

// Same reports whether r and o strike the same runs by the same rule, as
// Strike and Restore tell a strike given twice: by task, field and
// operator, and by the values once converted to the field's type (so 7 and
// 7.0 are the same on an int field).
func (r *StrikeRule) Same(o *StrikeRule) bool { return sameStrike(r.r, o.r) }

// PerpetualSchedule returns the times at which the runs of a perpetual task
// with p start, as a Schedule whose Next(t) is: t plus p.Every; the first
// time after t that p.Cron names in p.Location (UTC if nil), read as
// wall-clock times there, as localtasks' own backends and CronTimes read
// them; or p.Schedule's Next(t). It is for a backend that hands the
// schedule to a scheduler of its own, such as River's periodic jobs. A p
// with no schedule is an error, as is a bad cron expression; both match
// localtasks.ErrInvalidTask.
func PerpetualSchedule(p localtasks.Perpetual) (localtasks.Schedule, error) {
	switch {
	case p.Schedule != nil:
		return p.Schedule, nil
	case p.Cron != "":
		sched, err := cron.Cached(p.Cron)
		if err != nil {
			return nil, fmt.Errorf("localtasks: %v: fix the expression: %w", err, localtasks.ErrInvalidTask)
		}
		loc := p.Location
		if loc == nil {
			loc = time.UTC
		}
		return cronSchedule{sched: sched, loc: loc}, nil
	case p.Every > 0:
		return interval(p.Every), nil
	}
	return nil, fmt.Errorf("localtasks: the perpetual task has no interval, no cron expression and no schedule: give Every, Cron or Schedule: %w", localtasks.ErrInvalidTask)
}

// cronSchedule is a cron expression read in a time zone.
type cronSchedule struct {
	sched *cron.Schedule
	loc   *time.Location
}

func (c cronSchedule) Next(t time.Time) time.Time { return c.sched.Next(t.In(c.loc)) }

// interval is a fixed interval.
type interval time.Duration

func (d interval) Next(t time.Time) time.Time { return t.Add(time.Duration(d)) }
