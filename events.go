package localtasks

import (
	"context"
	"sync/atomic"
)

// EventKind says what happened to a task, like Django's task signals.
type EventKind uint8

// The event kinds.
const (
	// EventEnqueued: Enqueue accepted the task.
	EventEnqueued EventKind = iota + 1
	// EventStarted: an attempt started (once per attempt).
	EventStarted
	// EventFinished: the task reached its final status.
	EventFinished
	// EventProgress: a running task reported progress (SetProgress).
	EventProgress
)

// String returns the kind's name: "enqueued", "started", "finished" or
// "progress".
func (k EventKind) String() string {
	switch k {
	case EventEnqueued:
		return "enqueued"
	case EventStarted:
		return "started"
	case EventFinished:
		return "finished"
	case EventProgress:
		return "progress"
	}
	return "unknown"
}

// Event is one thing that happened to a task, with a snapshot of the task
// right after it.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Result is the task's snapshot right after it happened.
	Result TaskResult
}

// SubscribeBufferDefault is the buffer of a subscription whose Subscribe call
// asked for none.
const SubscribeBufferDefault = 1024

// Subscription delivers a backend's events on C, in the order they happened
// for any one task. Delivery never blocks the pool: when C's buffer is full,
// the event is dropped for this subscriber and counted in Dropped, so give C
// a buffer that covers your bursts, and read it promptly.
//
// C is closed when the subscription or the backend's state is closed.
type Subscription struct {
	// C receives the events.
	C <-chan Event

	c       chan Event
	dropped atomic.Uint64
	s       *state
}

// Dropped reports how many events this subscriber missed because C was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close stops the deliveries and closes C. Closing twice is safe.
func (sub *Subscription) Close() { sub.s.unsubscribe(sub) }

// Middleware wraps every attempt of every task a backend runs, for logging,
// metrics or tracing. It must call next to run the attempt (or return an
// error instead), and return next's error or one of its own. Middleware runs
// on the worker, inside the attempt's ctx and panic recovery, outermost
// first.
type Middleware func(ctx context.Context, ex Execution, next func(context.Context) error) error

// Execution describes the attempt a Middleware wraps.
type Execution struct {
	// ID is the run's ID, and Task its task's name.
	ID   string
	Task string
	// Attempt is the attempt's number, from 1.
	Attempt int
	// Queue and Priority are the run's.
	Queue    string
	Priority int
	// Args is the run's argument.
	Args any
}
