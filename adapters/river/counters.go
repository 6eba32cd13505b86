package river

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
)

var _ localtasks.Snapshotter = (*Backend)(nil)

// Counters returns this process's counters: what this Backend enqueued
// (Enqueue, EnqueueMany and EnqueueTx) and cancelled (Cancel, and the runs
// a Replace took the place of), and what its own workers started and
// finished. Runs other processes enqueue or run are not counted: read
// Snapshot's Counts for the database's runs. They start at zero with New.
// Reading them costs a few atomic loads and one short lock, no query.
//
// A run enqueued with EnqueueTx counts once it is inserted, whether or not
// its transaction commits. Retried counts the failed attempts of this
// process's workers that River will try again (not snoozes, as on the
// pools); Started counts attempts started. Struck counts the runs struck
// here, at enqueue (each counted as enqueued and cancelled too, as on the
// pools) or as this process's workers took them. Perpetuated,
// DeadlinePassed, QueueFull and the journal's counters are 0: River runs
// have none of those.
func (b *Backend) Counters() localtasks.Counters {
	s := &b.stats
	c := localtasks.Counters{
		Enqueued:  s.enqueued.Load(),
		Succeeded: s.succeeded.Load(),
		Failed:    s.failed.Load(),
		Cancelled: s.cancelled.Load(),
		Retried:   s.retried.Load(),
		Struck:    b.strikes.struck.Load(),
	}
	c.Started, _ = b.local.attempts()
	return c
}

// stats counts what this process did and saw, for Counters: an atomic add
// each, on the paths that already run for each run, and no query.
type stats struct {
	enqueued, succeeded, failed, cancelled, retried atomic.Uint64
	// finishes wakes Drains as this process's runs finish.
	finishes signal
}

// inserted counts the runs ins inserted, and the runs they replaced,
// which are cancelled.
func (s *stats) inserted(ins *insertion) {
	var n uint64
	for _, row := range ins.rows {
		if row != nil {
			n++
		}
	}
	s.enqueued.Add(n)
	if len(ins.replaced) > 0 {
		s.cancelled.Add(uint64(len(ins.replaced)))
		s.finishes.fire()
	}
}

// cancelledHere counts a queued or scheduled run this process's Cancel
// cancelled.
func (s *stats) cancelledHere() {
	s.cancelled.Add(1)
	s.finishes.fire()
}

// saw counts what River tells of an attempt of b's workers, which forward
// hands it, and wakes Drains if the run finished.
func (b *Backend) saw(ev *river.Event) {
	s := &b.stats
	switch ev.Kind {
	case river.EventKindJobCompleted:
		s.succeeded.Add(1)
	case river.EventKindJobCancelled:
		s.cancelled.Add(1)
	case river.EventKindJobFailed:
		if ev.Job.State == rivertype.JobStateDiscarded {
			s.failed.Add(1)
		} else {
			s.retried.Add(1)
		}
	}
	b.local.reported(ev.Job.ID)
	s.finishes.fire()
}

// signal wakes every goroutine waiting on it, each time it fires.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed when s next fires.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// fire wakes the waiters; with none, it costs a lock.
func (s *signal) fire() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}

// attempts returns how many attempts this process's workers started, and
// how many of them are running.
func (l *localRuns) attempts() (started uint64, running int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started, len(l.running)
}

// runningIDs returns the IDs of the runs this process's workers run, in
// the order of their job IDs.
func (l *localRuns) runningIDs() []string {
	l.mu.Lock()
	ids := make([]int64, 0, len(l.running))
	for id := range l.running {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	slices.SortFunc(ids, cmp.Compare)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = formatID(id)
	}
	return out
}

// reported notes that River told of the outcome of an attempt of job id.
func (l *localRuns) reported(id int64) {
	l.mu.Lock()
	delete(l.unreported, id)
	l.mu.Unlock()
}

// unreportedRuns counts the runs started here whose outcome River has not
// told of yet: their counts are still to come.
func (l *localRuns) unreportedRuns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.unreported)
}
