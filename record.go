package localtasks

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/localtasks/localtasks/internal/timeheap"
)

// record is the backend's own copy of a task run: 240 bytes, a size class
// of the allocator, kept small because the store holds many of them (see
// docs/design.md; bench W9 measures the bytes a queued run costs). What
// only some runs need is in recordExtra. Its fields are guarded by
// state.mu, but for key, id, def and args, which never change.
type record struct {
	key   uuid.UUID
	id    string // key in canonical form
	def   Definition
	args  any
	value any // what a successful attempt returned
	queue string

	status      Status
	priority    int8
	cancelling  bool // Cancel or Close asked the running attempt to stop
	attempts    int32
	maxAttempts int32        // from the retry policy; never changes
	stored      atomic.Int32 // storedNot, storedPublished or storedEvicted; see store.go

	enqueuedAt time.Time
	// The other times, as offsets from enqueuedAt; runAfter is in
	// recordExtra.
	startedAt, lastAttemptedAt, finishedAt offset

	worker0 string        // the first attempt's worker; the later ones' are in recordExtra
	run     attempt       // the running attempt; on a process pool, also a dispatched one
	payload []byte        // the argument gob-encoded, on a process pool
	done    chan struct{} // made by the first Wait, closed when finished
	inbox   *record       // the next run down the inbox, while rec is in it (see state.post)
	x       *recordExtra  // what few runs need; nil until one does
}

// attempt is what cancels a run's attempt: its *taskctx.Ctx in this
// process, or a message to the worker process running it.
type attempt interface {
	// Cancel cancels the attempt with err (what its ctx's Err returns)
	// for cause; only the first call counts.
	Cancel(err, cause error) bool
}

// recordExtra holds the parts of a record that most runs never need.
type recordExtra struct {
	retry        RetryPolicy
	timeout      time.Duration // WithTimeout's; never changes
	runAfter     offset        // set once SCHEDULED
	workers      []string      // the workers of the attempts after the first
	errs         []TaskError
	cancelReason string
	progress     Progress
	timer        Timer                    // the running attempt's timeout
	entry        *timeheap.Entry[*record] // while SCHEDULED

	key     string           // WithKey's, or a perpetual task's name
	perp    *perpetual       // set for a run of a perpetual task
	plan    *plan            // the run's limits
	gates   [gateKinds]*gate // the groups it belongs to under them
	holding bool             // it holds a slot of its concurrency limit
	granted bool             // its rate limit granted it a later start
}

// keyOf is a key in state.keys: keys are per task.
type keyOf struct{ task, key string }

// timeout is the run's attempt timeout, 0 for none. It never changes, and
// needs no lock.
func (rec *record) timeout() time.Duration {
	if rec.x == nil {
		return 0
	}
	return rec.x.timeout
}

// lastWorker is the worker of rec's latest attempt. Must hold s.mu.
func (rec *record) lastWorker() string {
	if x := rec.x; x != nil && len(x.workers) > 0 {
		return x.workers[len(x.workers)-1]
	}
	return rec.worker0
}

func (rec *record) extra() *recordExtra {
	if rec.x == nil {
		rec.x = new(recordExtra)
	}
	return rec.x
}

// offset is a time as nanoseconds after a record's enqueuedAt, plus one, so
// that zero means unset. It keeps the monotonic reading of enqueuedAt.
type offset int64

func (rec *record) offset(t time.Time) offset {
	return offset(max(t.Sub(rec.enqueuedAt), 0)) + 1
}

func (rec *record) time(o offset) time.Time {
	if o == 0 {
		return time.Time{}
	}
	return rec.enqueuedAt.Add(time.Duration(o - 1))
}

// snapshot copies rec for a caller. Must hold s.mu.
func (s *state) snapshot(rec *record) TaskResult {
	res := TaskResult{
		ID: rec.id, Task: rec.def.Name(), Backend: s.name, Queue: rec.queue, Priority: int(rec.priority),
		Status: rec.status, EnqueuedAt: rec.enqueuedAt, StartedAt: rec.time(rec.startedAt),
		LastAttemptedAt: rec.time(rec.lastAttemptedAt), FinishedAt: rec.time(rec.finishedAt), Attempts: int(rec.attempts),
		Args: rec.args, Value: rec.value,
	}
	if rec.attempts > 0 {
		res.WorkerIDs = []string{rec.worker0}
	}
	if x := rec.x; x != nil {
		res.RunAfter = rec.time(x.runAfter)
		if rec.attempts > 0 && len(x.workers) > 0 {
			res.WorkerIDs = append(res.WorkerIDs, x.workers...)
		}
		res.Errors = slices.Clone(x.errs)
		res.CancelReason = x.cancelReason
		res.Progress = x.progress
		res.Key = x.key
	}
	return res
}
