package river

import (
	"context"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

// localRuns is the runs this process's workers are running, by job ID, so
// that a Cancel here reaches its run at once. River's own way, a
// notification to the producer running the job, misses a job the producer
// has fetched but not yet started: the run would go on until its task
// returned, and a Block-like task never does. A Cancel that finds no run
// here leaves a note that the run, should it start here, reads first.
type localRuns struct {
	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc
	noted   map[int64]time.Time // cancels of runs not started here, when noted
	// started counts the attempts started here; unreported holds the runs
	// started here whose outcome River has not yet told forward of (see
	// Backend.saw): both for Counters, Snapshot and Drain (counters.go).
	started    uint64
	unreported map[int64]struct{}
}

// notedFor bounds how long a note is kept: a run noted but never started
// here runs on another machine, whose producer River notifies.
const notedFor = 10 * time.Minute

func newLocalRuns() *localRuns {
	return &localRuns{running: make(map[int64]context.CancelCauseFunc), noted: make(map[int64]time.Time), unreported: make(map[int64]struct{})}
}

// start registers the run of job id with its cancel func, and cancels it at
// once if a Cancel came first. Call the returned func when the run ends.
func (l *localRuns) start(id int64, cancel context.CancelCauseFunc) (end func()) {
	l.mu.Lock()
	_, noted := l.noted[id]
	delete(l.noted, id)
	l.running[id] = cancel
	l.started++
	l.unreported[id] = struct{}{}
	l.mu.Unlock()
	if noted {
		cancel(localtasks.ErrCancelled)
	}
	return func() {
		l.mu.Lock()
		delete(l.running, id)
		l.mu.Unlock()
	}
}

// cancel cancels the run of job id if it runs here, and otherwise notes the
// cancel for a run that starts here later.
func (l *localRuns) cancel(id int64, now time.Time) {
	l.mu.Lock()
	c, ok := l.running[id]
	if !ok {
		for k, at := range l.noted {
			if now.Sub(at) > notedFor {
				delete(l.noted, k)
			}
		}
		l.noted[id] = now
	}
	l.mu.Unlock()
	if ok {
		c(localtasks.ErrCancelled)
	}
}
