package localtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The bounds of a snapshot's listing.
const (
	// SnapshotLimitDefault is how many runs a Snapshot lists unless
	// SnapshotOptions.Limit says otherwise.
	SnapshotLimitDefault = 100
	// SnapshotLimitMax is the largest SnapshotOptions.Limit.
	SnapshotLimitMax = 10_000
	// SnapshotFinishedMax is how many of the most recently finished runs a
	// listing goes through: finished runs further back are still in the
	// result store, for GetResult, but no Snapshot lists them. It is
	// MaxResultsDefault, so that a backend of the default MaxResults can
	// page through every finished run it keeps. The ring of those finishes
	// keeps a run evicted from the store in memory until as many more have
	// finished.
	SnapshotFinishedMax = MaxResultsDefault
)

// SnapshotOptions selects the runs a Snapshot lists, and pages through
// them. The zero value lists the first SnapshotLimitDefault runs of every
// status.
//
// A listing goes through the SCHEDULED runs, then the READY, then the
// RUNNING, each in the order of their places in the backend's store
// (which says nothing of their age or of the order they run in), then the
// SnapshotFinishedMax most recently finished, newest first: the order in
// which runs move, so that a run that moves on while a listing reads (a
// READY run that starts, a RUNNING one that finishes) is listed in the
// status it moved to, if not in both. Each page continues where the one
// before ended, so that paging while nothing changes lists every run once.
// A run that moves back meanwhile (a retry, a run a rate limit puts off)
// may be listed in neither; a run enqueued meanwhile may be listed or not;
// a run is listed as it is when its page reads it.
//
// Only the runs that match are copied, and only the places of the store
// where the counts kept per status say runs of the statuses asked for are
// read: a page costs about what it lists, whatever the backlog. Options
// that match few of many runs of one status (a Task among a million
// queued runs of other tasks) read every run of that status to find them.
type SnapshotOptions struct {
	// Statuses lists only runs with one of these statuses; none lists
	// every status.
	Statuses []Status
	// Task lists only runs of the task of this name; "" lists every task.
	Task string
	// Queue lists only runs on this queue; "" lists every queue.
	Queue string
	// Key lists only runs with this key (WithKey, or a perpetual task's
	// name); "" lists runs with or without one.
	Key string
	// Tag lists only runs with this tag among their Tags (WithTags); ""
	// lists runs with or without tags. Like Key, it is checked on each
	// run of the statuses asked for: it does not narrow what is read.
	Tag string
	// Metadata lists only runs whose Metadata holds every one of these
	// pairs; none lists every run. Checked as Tag is.
	Metadata map[string]string
	// Limit is the most runs to list. Defaults to SnapshotLimitDefault;
	// at most SnapshotLimitMax.
	Limit int
	// Cursor continues a listing: the NextCursor of the page before, with
	// the same other options. "" starts at the beginning.
	Cursor string
}

// Snapshot describes a backend's workers, counters and strikes at one
// moment, and one page of its runs (see SnapshotOptions).
type Snapshot struct {
	// Backend is the backend's name; At, when the snapshot was taken.
	Backend string
	At      time.Time
	// Queued lists the page's READY runs, in the order they would start,
	// those waiting for a concurrency slot among them.
	Queued []TaskResult
	// Scheduled lists the page's SCHEDULED runs, the soonest first.
	Scheduled []TaskResult
	// Running lists the page's RUNNING runs, the earliest started first.
	// The last of each one's WorkerIDs is its worker; LastAttemptedAt,
	// when its attempt started.
	Running []TaskResult
	// Finished lists the page's finished runs, newest first.
	Finished []TaskResult
	// NextCursor continues the listing, as SnapshotOptions.Cursor; "" when
	// it is over. A full page may be followed by an empty one.
	NextCursor string
	// Counts counts the backend's runs by status, all of them, whatever
	// the options: kept as runs change, never counted by walking them.
	Counts StatusCounts
	// Workers lists the backend's workers, with every run they run.
	Workers []WorkerInfo
	// Counters count what happened since the backend started.
	Counters Counters
	// Strikes lists the strikes in force.
	Strikes []Strike
	// Queues describes the backend's queues, in the order of
	// Config.Queues.
	Queues []QueueInfo
	// Pauses lists what is paused, as Pauser.Pauses.
	Pauses []Pause
	// LastWorkerRestart is when the last worker process was started to
	// replace one that died or retired (Counters.WorkerRestarts counts
	// them); zero if none was, and always for a ThreadPoolBackend.
	LastWorkerRestart time.Time
	// Closed says the backend accepts no more runs: it was closed, or its
	// state was shut down (Close). A closed backend still answers
	// Snapshot, with the final state of the runs it keeps.
	Closed bool
}

// Counters count what happened to a backend's runs since it started.
// Succeeded + Failed + Cancelled is the number of runs finished.
type Counters struct {
	// Enqueued counts the runs Enqueue made, struck and dropped ones too,
	// but not requests answered AlreadyEnqueued.
	Enqueued uint64
	// Started counts attempts started.
	Started uint64
	// Succeeded, Failed and Cancelled count runs by their final status.
	Succeeded, Failed, Cancelled uint64
	// Retried counts failed attempts that were tried again.
	Retried uint64
	// Struck counts runs a strike cancelled, at enqueue or before they ran.
	Struck uint64
	// Perpetuated counts the runs perpetual tasks enqueued for themselves.
	Perpetuated uint64
	// DeadlinePassed counts the runs cancelled for they had not started
	// by their deadline (WithDeadline).
	DeadlinePassed uint64
	// QueueFull counts the Enqueue calls refused with ErrQueueFull
	// (Config.MaxQueued); a wait for room that ends with its ctx counts
	// too.
	QueueFull uint64
	// JournalCommits counts the commits of the backend's journal (see
	// Config.Journal), JournalRows the runs' rows they wrote, and
	// JournalFailures the commits that failed.
	JournalCommits, JournalRows, JournalFailures uint64
	// WorkerRestarts counts the worker processes a ProcessPoolBackend
	// started to replace one that died (a crash, a kill, a task that
	// exited) or retired (MaxTasksPerWorker), not the first MaxWorkers
	// nor those SetMaxWorkers added; a replacement that failed to start
	// and was tried again counts once. Always 0 for a ThreadPoolBackend,
	// whose goroutines are never replaced. Snapshot.LastWorkerRestart
	// says when the last one started.
	WorkerRestarts uint64
}

// WorkerInfo describes one worker: a goroutine of a ThreadPoolBackend or a
// process of a ProcessPoolBackend.
type WorkerInfo struct {
	// ID is the worker's name, as in TaskResult.WorkerIDs.
	ID string
	// PID is the worker process's ID; 0 for a goroutine, and for a
	// process-pool slot that is Starting. Check it before signalling it:
	// kill(2) takes PID 0 for the caller's own process group.
	PID int
	// Running lists the IDs of the runs it is running (one at most, for a
	// goroutine).
	Running []string
	// TasksDone counts the attempts it has finished.
	TasksDone int
	// MemoryBytes is the worker process's resident memory, where the
	// system reports it (Linux); 0 for a goroutine.
	MemoryBytes int64
	// Starting says the slot's worker process is being replaced: the last
	// one died or retired (MaxTasksPerWorker), and the next has not
	// reported ready yet, or failed to start and is tried again. Its PID
	// is 0 and its ID names the slot, without a process. A process pool
	// lists each of its MaxWorkers slots (as SetMaxWorkers last set
	// them), starting or not, until it closes, and the workers of retired
	// slots until they exit.
	Starting bool
}

// workerInfo lists the workers. Must hold s.mu.
func (s *state) workerInfo() []WorkerInfo {
	var ws []WorkerInfo
	switch {
	case s.mode == modePool:
		ws = make([]WorkerInfo, 0, len(s.slotDone))
		for i, done := range s.slotDone {
			if i < s.workers || s.slotLive[i] { // a retired slot's worker, until it leaves
				ws = append(ws, WorkerInfo{ID: s.workerName(i), TasksDone: int(done)})
			}
		}
	case s.proc != nil:
		p := s.proc
		p.mu.Lock()
		live := make([]bool, len(s.slotLive))
		for _, w := range p.workers {
			info := WorkerInfo{ID: w.name, PID: w.pid, TasksDone: w.finished}
			ws = append(ws, info)
			if w.slot < len(live) {
				live[w.slot] = true
			}
		}
		p.mu.Unlock()
		if !s.closing {
			for i := range min(s.workers, len(live)) {
				if !live[i] {
					ws = append(ws, WorkerInfo{ID: p.slotName(i), Starting: true})
				}
			}
		}
		slices.SortFunc(ws, func(a, b WorkerInfo) int { return cmp.Compare(a.ID, b.ID) })
	}
	return ws
}

// drain waits until s has no unfinished run; see Controller.Drain.
func (s *state) drain(ctx context.Context) error {
	if s.mode == modeRecord {
		return fmt.Errorf("localtasks: drain %s: the recording backend never runs tasks, so it would wait forever: %w", s.set.label(), errors.ErrUnsupported)
	}
	s.mu.Lock()
	s.takeInbox()
	if s.active == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	c, n := s.drained, s.active
	s.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("localtasks: drain %s: %d runs were unfinished when it started: %w", s.set.label(), n, ctx.Err())
	}
}

// Strike blocks the runs that st matches: Enqueue does not queue them (the
// disposition Struck), and queued or scheduled ones end CANCELLED when they
// would start. A strike on an undefined task, on a field the task's
// argument does not have, or with an unknown operator is an error, and
// changes nothing. Striking twice is striking once.
func (h *holder) Strike(st Strike) error { return h.s.strike(st) }

// Restore lifts the strike st, given earlier; runs it dropped stay
// dropped. Restoring a strike that is not in force is an error.
func (h *holder) Restore(st Strike) error { return h.s.restore(st) }

// Strikes lists the strikes in force, oldest first.
func (h *holder) Strikes() []Strike { return h.s.listStrikes() }

// Snapshot describes the backend's workers, counters and strikes now, and
// lists a page of its runs: those opts selects, from opts.Cursor on, at
// most opts.Limit of them; see SnapshotOptions for the order and what a
// listing guarantees while runs change. It costs what it lists, not what
// the backend holds, and takes the state's lock for a bounded amount of
// work at a time (at most 256 runs checked and 64 copied), whatever the
// backlog: measured on a loaded 2-core machine, about 10 us a time at the
// median and under 100 us at p99. Its only errors are options that are not valid (matching
// ErrInvalidSnapshotOptions) and ctx's, should it end first.
func (h *holder) Snapshot(ctx context.Context, opts SnapshotOptions) (Snapshot, error) {
	snap, err := h.s.snapshotPage(ctx, opts)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Closed = snap.Closed || h.closed.Load() // this holder, though its state may serve others
	return snap, nil
}

// Counters returns the backend's counters; cheaper than Snapshot.
func (h *holder) Counters() Counters {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.takeInbox()
	c := h.s.counters
	if jr := h.s.jr; jr != nil {
		c.JournalCommits, c.JournalRows, c.JournalFailures = jr.commits.Load(), jr.rows.Load(), jr.failures.Load()
	}
	return c
}

// Drain blocks until no run is queued, scheduled or running, for batch
// programs and tests, or until ctx ends. Enqueues from other goroutines
// may keep it waiting; a perpetual task keeps it waiting for ever, unless
// Config.Test.RunAtMost bounds it.
func (h *holder) Drain(ctx context.Context) error { return h.s.drain(ctx) }
