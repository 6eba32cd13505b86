package localtasks

import (
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks/internal/timeheap"
)

// record is the backend's own copy of a task run: 192 bytes (a size class
// of the allocator), kept small because the store holds many of them and the
// garbage collector scans each (see docs/design.md). Its fields are guarded
// by state.mu, but for slot, id, def, args, payload, timeout and noResult,
// which never change, and lru.
type record struct {
	id      string // a random UUID carrying slot, in canonical form
	def     Definition
	args    any
	value   any // what a successful attempt returned
	timeout time.Duration

	status     Status
	priority   int8
	cancelling bool // Cancel or Close asked the running attempt to stop
	announced  bool // post sent its EventEnqueued already
	attempts   int32
	stored     atomic.Int32 // storedNot, storedPublished or storedEvicted; see store.go
	slot       uint32       // its slot in the index, which id carries
	queue      uint16       // its queue, as an index in Config.Queues (see state.queueOf)
	jdirty     bool         // it changed since the journal's last commit (see state.mark)
	jstatus    Status       // if set, the status its journal row keeps (see state.kept)
	qheld      bool         // it counts as running on its queue (see state.take)
	lru        uint8        // which LRU of the result store holds it; guarded by results.mu (see store.go)
	noResult   bool         // Options.DiscardResult: it leaves the store as it finishes; never changes

	// The times, as offsets from the state's epoch (see state.offset).
	enqueuedAt, runAfter, lastAttemptedAt, finishedAt offset

	worker0 string        // the first attempt's worker
	run     attempt       // the running attempt; on a process pool, also a dispatched one
	payload *[]byte       // the argument gob-encoded, on a process pool
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
	retry        RetryPolicy   // retries(): a run with one attempt has no recordExtra for it
	snoozes      int32         // the attempts that ended in Snooze
	extended     time.Duration // how much ExtendTimeout added to the running attempt's timeout
	errs         []TaskError
	cancelReason string
	progress     Progress
	timer        Timer                    // the running attempt's timeout
	entry        *timeheap.Entry[*record] // while SCHEDULED
	startedAt    offset                   // the first attempt's start, once a second one started
	deadline     offset                   // WithDeadline's: the latest start of its first attempt
	workers      []string                 // the later attempts' workers

	key     string     // WithKey's, or a perpetual task's name
	perp    *perpetual // set for a run of a perpetual task
	plan    *plan      // the run's limits
	gates   []*gate    // the groups it belongs to under them, one a plan.specs
	inline  [2]*gate   // gates' array, for up to two
	held    uint32     // the concurrency limits (bits of plan.specs) whose slot it holds
	granted bool       // its rate limits granted it a later start

	tags []string          // WithTags', never changed once set
	meta map[string]string // WithMetadata's, then SetMetadata's: copied on write, never changed in place

	carrier map[string]string // Config.Propagator's Inject at Enqueue, never changed; nil for none

	logs *runLogs // what the run logged, kept (runlog.go); nil for nothing

	watchers []chan struct{} // the watches of the run, woken as it changes; nil for none (see watch.go)
}

// keyOf is a key in state.keys: keys are per task.
type keyOf struct{ task, key string }

func (rec *record) extra() *recordExtra {
	if rec.x == nil {
		rec.x = new(recordExtra)
	}
	return rec.x
}

// maxAttempts is how many attempts rec may make, from its retry policy.
func (rec *record) maxAttempts() int32 {
	if rec.x == nil {
		return 1
	}
	if rec.x.retry.MaxAttempts == RetryForever {
		return math.MaxInt32
	}
	return int32(max(rec.x.retry.MaxAttempts, 1))
}

// failures is how many of rec's attempts failed or are running: its
// attempts, snoozes not counted.
func (rec *record) failures() int32 {
	if rec.x == nil {
		return rec.attempts
	}
	return rec.attempts - rec.x.snoozes
}

// startedAt is when rec's first attempt started, or 0.
func (rec *record) startedAt() offset {
	if rec.x != nil && rec.x.startedAt != 0 {
		return rec.x.startedAt
	}
	return rec.lastAttemptedAt
}

// queueOf is the name of rec's queue. It needs no lock.
func (s *state) queueOf(rec *record) string { return s.set.cfg.Queues[rec.queue] }

// lastWorker is the worker of rec's latest attempt. Must hold s.mu.
func (rec *record) lastWorker() string {
	if x := rec.x; x != nil && len(x.workers) > 0 {
		return x.workers[len(x.workers)-1]
	}
	return rec.worker0
}

// argBytes is rec's argument gob-encoded, on a process pool; nil elsewhere.
func (rec *record) argBytes() []byte {
	if rec.payload == nil {
		return nil
	}
	return *rec.payload
}

// offset is a time as nanoseconds after the state's epoch, a reading of its
// clock taken when it opened, so that it keeps the monotonic reading and
// takes 8 bytes where a time.Time takes 24 (with a pointer for the garbage
// collector to follow). Zero means unset: a time at or after the epoch is
// stored plus one, one before it (a test clock may go back) as is.
type offset int64

// offset returns t as an offset.
func (s *state) offset(t time.Time) offset {
	d := t.Sub(s.epoch)
	if d >= 0 {
		return offset(d) + 1
	}
	return offset(d)
}

// time returns the time o stands for, or the zero time if o is unset.
func (s *state) time(o offset) time.Time {
	switch {
	case o == 0:
		return time.Time{}
	case o > 0:
		o--
	}
	return s.epoch.Add(time.Duration(o))
}

// snapshot copies rec for a caller. Must hold s.mu.
func (s *state) snapshot(rec *record) TaskResult {
	res := TaskResult{
		ID: rec.id, Task: rec.def.Name(), Backend: s.name, Queue: s.queueOf(rec), Priority: int(rec.priority),
		Status: rec.status, EnqueuedAt: s.time(rec.enqueuedAt), RunAfter: s.time(rec.runAfter), StartedAt: s.time(rec.startedAt()),
		LastAttemptedAt: s.time(rec.lastAttemptedAt), FinishedAt: s.time(rec.finishedAt), Attempts: int(rec.attempts),
		Args: rec.args, Value: rec.value,
	}
	if x := rec.x; x != nil && len(x.workers) > 0 {
		res.WorkerIDs = append([]string{rec.worker0}, x.workers...)
	} else if rec.attempts > 0 {
		res.WorkerIDs = []string{rec.worker0}
	}
	if x := rec.x; x != nil {
		res.Errors = slices.Clone(x.errs)
		res.CancelReason = x.cancelReason
		res.Progress = x.progress
		res.Key = x.key
		res.Deadline = s.time(x.deadline)
		if x.tags != nil {
			res.Tags = slices.Clone(x.tags)
		}
		if x.meta != nil {
			res.Metadata = maps.Clone(x.meta)
		}
		if x.logs != nil {
			res.Logs, res.LogsDropped = x.logs.view()
		}
	}
	return res
}
