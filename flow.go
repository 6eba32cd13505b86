package localtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/localtasks/localtasks/internal/pqueue"
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
	// Ready and Scheduled count its READY and SCHEDULED runs: its queue
	// depth, those a pause or its MaxWorkers hold back included. Kept as
	// runs change, as Snapshot.Counts are, never counted by walking them.
	Ready, Scheduled int
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
func (h *holder) Pauses() []Pause {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.listPauses()
}

// The rule between priority and queues. The ready runs of every queue wait
// in one line, in priority order. A worker takes the first; if its queue is
// paused, or running as many runs as its QueueWorkers allow, or its task is
// paused, the run is set aside (held), still READY, and the worker takes
// the next: a held run never holds up the runs of other queues behind it.
// A queue's held runs go back to the front of their priority's line when
// the queue has room again (one for each run of it that ends) or is
// resumed; a task's, when it is resumed.

// queueFlow is a queue's share of the workers and its pause. Guarded by
// s.mu.
type queueFlow struct {
	limit   int  // Config.QueueWorkers, or MaxInt
	running int  // its runs running or dispatched, each with record.qheld set
	paused  bool // Pause{Queue}
	// held are its runs set aside while it is paused or at its limit,
	// made on the first.
	held *pqueue.Queue[*record]
}

// newFlows makes the queues' flows of cfg.
func newFlows(cfg *Config) []queueFlow {
	qs := make([]queueFlow, len(cfg.Queues))
	for i, name := range cfg.Queues {
		qs[i].limit = math.MaxInt
		if n := cfg.QueueWorkers[name]; n > 0 {
			qs[i].limit = n
		}
	}
	return qs
}

// take decides, as a worker takes rec off the ready line, whether its queue
// and task let it start; if so it counts rec as running on its queue, and
// if not it sets rec aside until they do. Must hold s.mu.
func (s *state) take(rec *record) bool {
	q := &s.flows[rec.queue]
	if q.paused || q.running >= q.limit {
		if q.held == nil {
			q.held = new(pqueue.Queue[*record])
		}
		s.release(rec) // a concurrency slot passed to it goes on: it may wait long
		q.held.Push(int(rec.priority), rec)
		return false
	}
	if len(s.pausedTasks) > 0 {
		if held, ok := s.pausedTasks[rec.def.Name()]; ok {
			s.release(rec)
			s.pausedTasks[rec.def.Name()] = append(held, rec)
			return false
		}
	}
	q.running++
	rec.qheld = true
	return true
}

// leaveQueue uncounts rec from its queue's running runs, once its attempt
// (or its dispatch) is over, and lets the queue's first held run back on
// the line if the queue has room now. Must hold s.mu.
func (s *state) leaveQueue(rec *record) {
	if !rec.qheld {
		return
	}
	rec.qheld = false
	q := &s.flows[rec.queue]
	q.running--
	if q.held == nil || q.paused || q.running >= q.limit || s.closing {
		return
	}
	for {
		r, ok := q.held.Pop()
		if !ok {
			return
		}
		if r.status == StatusReady && r.run == nil { // else cancelled while held
			s.unhold(r)
			return
		}
	}
}

// unhold puts a held run back at the front of its priority's line, and
// wakes a worker for it. Must hold s.mu.
func (s *state) unhold(rec *record) {
	s.ready.PushFront(int(rec.priority), rec)
	if s.proc != nil {
		s.proc.wakeForReady()
	} else if s.idle > s.waking {
		s.waking++
		s.cond.Signal()
	}
}

// unholdAll puts runs, set aside in this order, back on the line so that
// they keep it. Must hold s.mu.
func (s *state) unholdAll(runs []*record) {
	for _, r := range slices.Backward(runs) {
		if r.status == StatusReady && r.run == nil {
			s.unhold(r)
		}
	}
}

// drainHeld calls f with every held run, and forgets them: for Close. Must
// hold s.mu.
func (s *state) drainHeld(f func(*record)) {
	for i := range s.flows {
		if q := &s.flows[i]; q.held != nil {
			q.held.Drain(f)
		}
	}
	for name, held := range s.pausedTasks {
		s.pausedTasks[name] = nil
		for _, r := range held {
			f(r)
		}
	}
}

// checkPause reports what is wrong with p on s.
func (s *state) checkPause(p Pause) error {
	switch {
	case !s.caps.Pause:
		return fmt.Errorf("localtasks: pause %v: %s has no workers taking runs from a queue, so nothing to pause: use a thread or process pool: %w",
			p, s.label, errors.ErrUnsupported)
	case (p.Queue == "") == (p.Task == ""):
		return fmt.Errorf("localtasks: pause %+v: give a queue or a task, not both or neither: %w", p, ErrInvalidTask)
	case p.Queue != "" && !slices.Contains(s.set.cfg.Queues, p.Queue):
		return fmt.Errorf("localtasks: pause %v: it is not one of %s's queues %q: %w", p, s.label, s.set.cfg.Queues, ErrInvalidTask)
	case p.Task != "":
		if _, ok := Lookup(p.Task); !ok {
			return fmt.Errorf("localtasks: pause %v: no task of that name is defined: check its name (Define's): %w", p, ErrInvalidTask)
		}
	}
	return nil
}

// pause pauses (on) or resumes what p names; see Pauser.
func (s *state) pause(ctx context.Context, p Pause, on bool) error {
	if err := s.checkPause(p); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return fmt.Errorf("localtasks: pause %v: %s is closed: %w", p, s.label, ErrClosed)
	}
	changed := false
	if p.Queue != "" {
		q := &s.flows[slices.Index(s.set.cfg.Queues, p.Queue)]
		if changed = q.paused != on; changed {
			q.paused = on
			if !on && q.held != nil {
				var runs []*record
				q.held.Drain(func(r *record) { runs = append(runs, r) })
				s.unholdAll(runs)
			}
		}
	} else {
		held, paused := s.pausedTasks[p.Task]
		if changed = paused != on; changed {
			if on {
				if s.pausedTasks == nil {
					s.pausedTasks = make(map[string][]*record)
				}
				s.pausedTasks[p.Task] = nil
			} else {
				delete(s.pausedTasks, p.Task)
				s.unholdAll(held)
			}
		}
	}
	var cw *commitWait
	if changed && s.jr != nil {
		s.jr.pause(p, !on)
		cw = s.jr.pending()
	}
	s.mu.Unlock()
	if cw != nil {
		if err := s.jr.await(cw); err != nil {
			return fmt.Errorf("localtasks: pause %v: it is in force, but the journal failed to keep it, and a restart will not know it: %w", p, err)
		}
	}
	return nil
}

// restorePause puts back in force a pause the journal kept, unless it no
// longer applies: then it is lifted, and logged. Must hold s.mu.
func (s *state) restorePause(p Pause) {
	if err := s.checkPause(p); err != nil {
		s.logger.Error("localtasks: a pause in the journal no longer applies: it is lifted", "backend", s.name, "pause", p.String(), "error", err)
		s.jr.pause(p, true)
		return
	}
	if p.Queue != "" {
		s.flows[slices.Index(s.set.cfg.Queues, p.Queue)].paused = true
		return
	}
	if s.pausedTasks == nil {
		s.pausedTasks = make(map[string][]*record)
	}
	s.pausedTasks[p.Task] = nil
}

// listPauses lists what is paused, queues first, each sorted by name. Must
// hold s.mu.
func (s *state) listPauses() []Pause {
	var ps []Pause
	for i := range s.flows {
		if s.flows[i].paused {
			ps = append(ps, Pause{Queue: s.set.cfg.Queues[i]})
		}
	}
	slices.SortFunc(ps, func(a, b Pause) int { return strings.Compare(a.Queue, b.Queue) })
	n := len(ps)
	for name := range s.pausedTasks {
		ps = append(ps, Pause{Task: name})
	}
	slices.SortFunc(ps[n:], func(a, b Pause) int { return cmp.Compare(a.Task, b.Task) })
	return ps
}

// queueInfo describes the queues. Must hold s.mu.
func (s *state) queueInfo() []QueueInfo {
	qs := make([]QueueInfo, len(s.flows))
	for i := range s.flows {
		q := &s.flows[i]
		depth := &s.view.queues[i]
		qs[i] = QueueInfo{Name: s.set.cfg.Queues[i], Ready: depth[StatusReady-1], Scheduled: depth[StatusScheduled-1],
			Running: q.running, Paused: q.paused}
		if q.limit != math.MaxInt {
			qs[i].MaxWorkers = q.limit
		}
	}
	return qs
}
