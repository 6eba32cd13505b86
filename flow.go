package localtasks

import (
	"context"
	"errors"
	"fmt"
)

// This file holds the flow control of a pool's queues: pauses, and each
// queue's own bound on the workers its runs take (Config.QueueWorkers).

// Pause names what Pauser.Pause holds back: a queue, or a task (on every
// queue). Exactly one of the two is set.
type Pause struct {
	// Queue is the name of a queue of the backend (Config.Queues).
	Queue string
	// Task is the name of a defined task.
	Task string
}

// String describes p: `queue "reports"` or `task "send-email"`.
func (p Pause) String() string {
	if p.Task != "" {
		return fmt.Sprintf("task %q", p.Task)
	}
	return fmt.Sprintf("queue %q", p.Queue)
}

// Pauser is a Backend whose queues and tasks can be paused: no run of a
// paused queue or task starts, and none is cancelled either; each stays
// READY or SCHEDULED, keeps its place, and starts once resumed. Runs
// already running go on.
type Pauser interface {
	// Pause holds back the runs of p's queue or task. Pausing what is
	// paused already changes nothing.
	Pause(ctx context.Context, p Pause) error
	// Resume lets the runs p holds back start, in the order they would
	// have. Resuming what is not paused changes nothing.
	Resume(ctx context.Context, p Pause) error
	// Pauses lists what is paused now.
	Pauses() []Pause
}

// QueueInfo describes one queue of a backend, in a Snapshot.
type QueueInfo struct {
	// Name is the queue's name.
	Name string
	// MaxWorkers is the most workers its runs take at once
	// (Config.QueueWorkers); 0 for no bound of its own.
	MaxWorkers int
	// Running counts its runs running now, dispatched ones included.
	Running int
	// Paused says the queue is paused.
	Paused bool
}

// Pause holds back the runs of p's queue or task; see Pauser.
func (h *holder) Pause(ctx context.Context, p Pause) error { return h.s.pause(ctx, p, true) }

// Resume lets the runs of p's queue or task start again; see Pauser.
func (h *holder) Resume(ctx context.Context, p Pause) error { return h.s.pause(ctx, p, false) }

// Pauses lists what is paused now, queues first, each sorted by name.
func (h *holder) Pauses() []Pause { return h.s.listPauses() }

func (s *state) pause(ctx context.Context, p Pause, on bool) error {
	return errors.ErrUnsupported // TODO(flow): the next commit
}

func (s *state) listPauses() []Pause { return nil }
