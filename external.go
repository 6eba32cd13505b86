package localtasks

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// This file is the hook for backends built outside this package, such as
// the River adapter (adapters/river): what they need to run a task the way
// the package's own backends do, and nothing more.

// TaskInfo describes one attempt of a task run by a backend outside this
// package, for WithTaskInfo.
type TaskInfo struct {
	// ID is the run's ID, Task its task's name, and Attempt the attempt's
	// number, from 1.
	ID      string
	Task    string
	Attempt int
	// Logger is the backend's logger; Logger(ctx) adds the attempt's
	// attributes to it. Nil means slog.Default().
	Logger *slog.Logger
	// Progress receives the task's SetProgress reports; nil drops them.
	Progress func(done, total int64, message string)
}

// WithTaskInfo returns a ctx derived from parent that answers TaskID,
// TaskName, Attempt, Logger and SetProgress for the attempt info describes,
// as the ctx of an attempt on a ThreadPoolBackend does. Its deadline,
// cancellation and values are parent's; Cause reports context.Cause(parent).
// It is for backends outside this package: pass the result to
// Definition.Call.
func WithTaskInfo(parent context.Context, info TaskInfo) context.Context {
	base := info.Logger
	if base == nil {
		base = slog.Default()
	}
	return infoCtx{Context: parent, c: &taskCtx{id: info.ID, task: info.Task, attempt: info.Attempt, base: base, report: info.Progress}}
}

// infoCtx carries a taskCtx that is never cancelled itself: fromContext
// finds it, and everything else is the parent's.
type infoCtx struct {
	context.Context
	c *taskCtx
}

func (x infoCtx) Value(key any) any {
	if key == (taskCtxKey{}) {
		return x.c
	}
	return x.Context.Value(key)
}

// NewTimeoutError returns the error of an attempt that ran past its timeout
// of after, as the package's backends report it: it matches ErrTimeout and
// context.DeadlineExceeded, says "timed out after" and after, and unwraps to
// returned, what the task returned (nil for nothing).
func NewTimeoutError(after time.Duration, returned error) error {
	return &timeoutError{after: after, returned: returned}
}

// NewTaskError returns the TaskError of a failed attempt that a backend
// outside this package stored, with err as what it unwraps to, so that
// errors.Is and errors.As see through it (nil for nothing). Stack is empty
// unless the attempt panicked.
func NewTaskError(attempt int, at time.Time, typ, message, stack string, err error) TaskError {
	return TaskError{Attempt: attempt, At: at, Type: typ, Message: message, Stack: stack, err: err}
}

// CheckRequest reports what is wrong with a request to enqueue a run of
// task with args and opts on the backend named backend, with capabilities
// caps and queues queues (nil for just DefaultQueue), as the package's
// backends check it: an error matching ErrInvalidTask, or
// errors.ErrUnsupported for an option caps lacks. It sets opts.Queue to
// DefaultQueue if empty. The package's own backends check requests with it
// too.
func CheckRequest(backend string, caps Capabilities, queues []string, task Definition, args any, opts *Options) error {
	if task == nil {
		return fmt.Errorf("localtasks: enqueue of a nil task: pass a Task's Definition(): %w", ErrInvalidTask)
	}
	name := task.Name()
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if err := opts.validate(); err != nil {
		return fmt.Errorf("localtasks: enqueue %q: %v: %w", name, err, ErrInvalidTask)
	}
	if len(queues) == 0 {
		queues = []string{DefaultQueue}
	}
	if !slices.Contains(queues, opts.Queue) {
		return fmt.Errorf("localtasks: enqueue %q: queue %q is not one of backend %q's queues %q: add it to the backend's queues (Config.Queues) or use one of those: %w",
			name, opts.Queue, backend, queues, ErrInvalidTask)
	}
	if err := caps.check(backend, name, opts); err != nil {
		return err
	}
	return task.checkArgs(args)
}

// Broadcaster delivers a backend's events to its Subscriptions, as the
// package's backends do: in order, never blocking, counting what a full
// subscriber missed. It is for backends outside this package, to implement
// Subscribe. The zero value is not usable; call NewBroadcaster.
type Broadcaster struct{ s *state }

// NewBroadcaster returns a Broadcaster with no subscribers.
func NewBroadcaster() *Broadcaster { return &Broadcaster{s: &state{}} }

// Subscribe returns a new subscription with a buffer of buffer events
// (SubscribeBufferDefault if buffer is 0 or less); once the Broadcaster is
// closed, one whose C is closed.
func (b *Broadcaster) Subscribe(buffer int) *Subscription { return b.s.subscribe(buffer) }

// Publish delivers ev to every subscriber whose buffer has room, and counts
// it as dropped for the others.
func (b *Broadcaster) Publish(ev Event) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		select {
		case sub.c <- ev:
		default:
			sub.dropped.Add(1)
		}
	}
}

// Subscribed reports whether anyone is subscribed, so that a backend can
// skip building events nobody reads.
func (b *Broadcaster) Subscribed() bool {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return len(b.s.subs) > 0
}

// Close closes every subscription's C. Closing twice is safe.
func (b *Broadcaster) Close() {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, sub := range s.subs {
		close(sub.c)
	}
	s.subs = nil
}
