package localtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/localtasks/localtasks/internal/osproc"
)

// SnapshotFinishedMax is how many recently finished runs a Snapshot lists.
const SnapshotFinishedMax = 100

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
}

// Snapshot describes a backend's runs and workers at one moment.
type Snapshot struct {
	// Backend is the backend's name; At, when the snapshot was taken.
	Backend string
	At      time.Time
	// Queued lists the READY runs, in the order they would start,
	// those waiting for a concurrency slot among them.
	Queued []TaskResult
	// Scheduled lists the SCHEDULED runs, the soonest first.
	Scheduled []TaskResult
	// Running lists the RUNNING runs, the earliest started first. The
	// last of each one's WorkerIDs is its worker; LastAttemptedAt, when
	// its attempt started.
	Running []TaskResult
	// Finished lists the most recently finished runs still in the result
	// store, newest first, at most SnapshotFinishedMax.
	Finished []TaskResult
	// Workers lists the backend's workers.
	Workers []WorkerInfo
	// Counters count what happened since the backend started.
	Counters Counters
	// Strikes lists the strikes in force.
	Strikes []Strike
}

// WorkerInfo describes one worker: a goroutine of a ThreadPoolBackend or a
// process of a ProcessPoolBackend.
type WorkerInfo struct {
	// ID is the worker's name, as in TaskResult.WorkerIDs.
	ID string
	// PID is the worker process's ID; 0 for a goroutine.
	PID int
	// Running lists the IDs of the runs it is running (one at most, for a
	// goroutine).
	Running []string
	// TasksDone counts the attempts it has finished.
	TasksDone int
	// MemoryBytes is the worker process's resident memory, where the
	// system reports it (Linux); 0 for a goroutine.
	MemoryBytes int64
}

// snapshotBatch is how many runs snapshotAll copies per trip to the
// state's lock, so that Enqueue and the workers wait for a few hundred
// copies at most, whatever the backlog.
const snapshotBatch = 256

// snapshotAll describes s; see Controller.Snapshot. The counters, workers
// and strikes are read in one trip to the lock; the runs a batch at a time,
// each run as it is when its batch is read; of the finished runs, only the
// SnapshotFinishedMax newest are copied.
func (s *state) snapshotAll() Snapshot {
	all := s.index.all()
	s.mu.Lock()
	s.takeInbox()
	snap := Snapshot{Backend: s.name, At: s.clock.Now(), Counters: s.counters}
	snap.Workers = s.workerInfo()
	for _, r := range s.strikes {
		snap.Strikes = append(snap.Strikes, r.Strike)
	}
	s.mu.Unlock()

	type finishedRun struct {
		rec *record
		at  time.Time
	}
	var finished []finishedRun
	for start := 0; start < len(all); start += snapshotBatch {
		s.mu.Lock()
		for _, rec := range all[start:min(start+snapshotBatch, len(all))] {
			switch rec.status {
			case 0:
				// being enqueued
			case StatusReady:
				snap.Queued = append(snap.Queued, s.snapshot(rec))
			case StatusScheduled:
				snap.Scheduled = append(snap.Scheduled, s.snapshot(rec))
			case StatusRunning:
				snap.Running = append(snap.Running, s.snapshot(rec))
			default:
				finished = append(finished, finishedRun{rec, s.time(rec.finishedAt)})
			}
		}
		s.mu.Unlock()
		// Let whoever waits for the lock have it before the next batch:
		// a mutex woken waiter loses to a goroutine that locks again at
		// once, for up to a millisecond.
		runtime.Gosched()
	}
	slices.SortFunc(finished, func(a, b finishedRun) int { return b.at.Compare(a.at) })
	finished = finished[:min(len(finished), SnapshotFinishedMax)]
	s.mu.Lock()
	for _, f := range finished {
		snap.Finished = append(snap.Finished, s.snapshot(f.rec))
	}
	s.mu.Unlock()

	slices.SortFunc(snap.Queued, func(a, b TaskResult) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.EnqueuedAt.Compare(b.EnqueuedAt))
	})
	slices.SortFunc(snap.Scheduled, func(a, b TaskResult) int { return a.RunAfter.Compare(b.RunAfter) })
	slices.SortFunc(snap.Running, func(a, b TaskResult) int { return a.LastAttemptedAt.Compare(b.LastAttemptedAt) })
	index := make(map[string]int, len(snap.Workers))
	for i, w := range snap.Workers {
		index[w.ID] = i
	}
	for _, res := range snap.Running {
		if i, ok := index[res.WorkerIDs[len(res.WorkerIDs)-1]]; ok {
			snap.Workers[i].Running = append(snap.Workers[i].Running, res.ID)
		}
	}
	for i := range snap.Workers {
		if pid := snap.Workers[i].PID; pid > 0 {
			snap.Workers[i].MemoryBytes = osproc.ResidentMemory(pid)
		}
	}
	return snap
}

// workerInfo lists the workers. Must hold s.mu.
func (s *state) workerInfo() []WorkerInfo {
	var ws []WorkerInfo
	switch {
	case s.mode == modePool:
		ws = make([]WorkerInfo, len(s.slotDone))
		for i, done := range s.slotDone {
			ws[i] = WorkerInfo{ID: s.workerName(i), TasksDone: int(done)}
		}
	case s.proc != nil:
		s.proc.mu.Lock()
		for w := range s.proc.workers {
			info := WorkerInfo{ID: w.name, PID: w.pid, TasksDone: w.finished}
			ws = append(ws, info)
		}
		s.proc.mu.Unlock()
		slices.SortFunc(ws, func(a, b WorkerInfo) int { return cmp.Compare(a.ID, b.ID) })
	}
	return ws
}

// drain waits until s has no unfinished run; see Controller.Drain.
func (s *state) drain(ctx context.Context) error {
	if s.mode == modeRecord {
		return fmt.Errorf("localtasks: drain backend %q: the recording backend never runs tasks, so it would wait forever: %w", s.name, errors.ErrUnsupported)
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
		return fmt.Errorf("localtasks: drain backend %q: %d runs were unfinished when it started: %w", s.name, n, ctx.Err())
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

// Snapshot describes the backend's runs, workers, counters and strikes now.
// It walks every run the backend holds: an operator's call, not one for
// every request. It reads the runs a few hundred at a time, so that it
// holds up Enqueue and the workers briefly whatever the backlog; each run
// is listed as it was when read.
func (h *holder) Snapshot() Snapshot { return h.s.snapshotAll() }

// Counters returns the backend's counters; cheaper than Snapshot.
func (h *holder) Counters() Counters {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.takeInbox()
	return h.s.counters
}

// Drain blocks until no run is queued, scheduled or running, for batch
// programs and tests, or until ctx ends. Enqueues from other goroutines
// may keep it waiting; a perpetual task keeps it waiting for ever, unless
// Config.Test.RunAtMost bounds it.
func (h *holder) Drain(ctx context.Context) error { return h.s.drain(ctx) }
