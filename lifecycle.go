package localtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/localtasks/localtasks/internal/backoff"
	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// This file is the state machine: every change of a record's status is
// made here, under state.mu, by the functions marked with the transitions
// they make. The numbers are those of docs/design.md's diagram and of
// TestTransitions:
//
//	 1  new → READY            enqueue, perpetuate (place)
//	 2  new → SCHEDULED        enqueue with a run-after time, perpetuate (place, schedule)
//	 3  new → CANCELLED        struck or dropped at enqueue (bornCancelled)
//	 4  SCHEDULED → READY      its time came (fire)
//	 5  READY → RUNNING        a worker started it (start)
//	 6  READY → SCHEDULED      a rate limit put it off (admit, schedule)
//	 7  READY → CANCELLED      Cancel, a strike, a rate-limit drop, Replace, a debounce, Close (cancelQueued, closeQueued)
//	 8  SCHEDULED → CANCELLED  Cancel, Replace, a debounce, Close (cancelQueued, closeQueued)
//	 9  RUNNING → SUCCESSFUL   the attempt returned a value (settle)
//	10  RUNNING → FAILED       the last attempt allowed failed (settle)
//	11  RUNNING → CANCELLED    cancelled while running, or no retry after Close (settle, abandon)
//	12  RUNNING → READY        a retry without delay (settle)
//	13  RUNNING → SCHEDULED    a retry after a delay (settle, schedule)
//	14  dispatched → READY     a worker process died, or dropped it, before starting it (requeue)
//
// A run on its way to a worker process ("dispatched") is READY with a run
// attempt set; it becomes RUNNING when the worker reports the start.

func (s *state) closedError(task Definition) error {
	name := "<nil>"
	if task != nil {
		name = task.Name()
	}
	return fmt.Errorf("localtasks: enqueue %q: %s is closed: build a new backend: %w", name, s.set.label(), ErrClosed)
}

// runAfterYears bounds a run-after time, before or after the enqueue: a
// record keeps its times as nanoseconds from the state's epoch (offset).
const runAfterYears = 100

// enqueue validates a request and adds a run for it, unless a run of its
// key is unfinished. Nothing is queued unless it returns a nil error.
func (s *state) enqueue(ctx context.Context, def Definition, args any, opts Options) (Receipt, error) {
	lim, payload, err := s.check(ctx, def, args, &opts)
	if err != nil {
		return Receipt{}, err
	}
	now := s.clock.Now()
	runAfter, deadline, err := s.startTimes(def, &opts, now)
	if err != nil {
		return Receipt{}, err
	}
	rec := s.newRecord(def, args, payload, &opts, now)
	if !deadline.IsZero() {
		rec.extra().deadline = s.offset(deadline)
	}
	if c := s.inject(ctx); c != nil {
		rec.extra().carrier = c
	}

	if s.plain(lim, &opts, runAfter, now) {
		s.post(rec)
		return Receipt{ID: rec.id, Disposition: Enqueued}, nil
	}

	// Into the index first, under no lock, to keep the state's lock short.
	// Until it is placed below, the record has no status, and nothing acts
	// on it: no caller has its ID yet.
	s.index.put(rec)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.index.del(rec)
		return Receipt{}, s.closedError(def)
	}
	s.takeInbox() // runs posted before this one are queued before it
	if s.set.cfg.MaxQueued > 0 && s.needsRoom(rec, &opts) {
		if err := s.awaitRoom(ctx, rec.def, opts.WaitForRoom, 1); err != nil {
			s.mu.Unlock()
			s.index.del(rec)
			return Receipt{}, err
		}
	}
	disp := Enqueued
	if rec.x != nil || lim != nil || len(s.strikes) > 0 {
		r, at, done := s.enqueueChecks(rec, &opts, lim, now, runAfter)
		if done {
			s.mu.Unlock()
			if r.ID != rec.id {
				s.index.del(rec)
			}
			return r, nil
		}
		runAfter, disp = at, r.Disposition
	}
	s.counters.Enqueued++
	s.place(rec, runAfter, now)
	cw, durable := s.enqueueCommit()
	s.mu.Unlock()
	if cw != nil {
		// A batched Enqueue waits only to let the commits keep up; it
		// does not answer for the commit's outcome, logged and counted.
		if err := s.jr.await(cw); err != nil && durable {
			return Receipt{}, s.unjournaled(rec, err)
		}
	}

	if s.mode == modeInline {
		s.runInline(rec)
	}
	return Receipt{ID: rec.id, Disposition: disp}, nil
}

// enqueueCommit returns the commit an Enqueue that changed runs waits for:
// the next, on a durable journal (durable), or on a batched one that lags
// (see JournalBatchMax); nil for none. Must hold s.mu, after the runs were
// marked.
func (s *state) enqueueCommit() (cw *commitWait, durable bool) {
	if s.jr == nil {
		return nil, false
	}
	if durable = s.jr.mode == JournalDurable; durable || s.jr.crowded() {
		cw = s.jr.pending()
	}
	return cw, durable
}

// startTimes returns the run-after time and the deadline of a run enqueued
// now with opts (zero times for none), and gives a perpetual task's run
// its key.
func (s *state) startTimes(def Definition, opts *Options, now time.Time) (runAfter, deadline time.Time, err error) {
	if opts.Perpetual.enabled() && opts.Key == "" {
		opts.Key = def.Name() // one chain per task
	}
	runAfter = opts.RunAt
	if opts.Delay > 0 {
		runAfter = now.Add(opts.Delay)
	}
	if opts.Perpetual.enabled() {
		if runAfter, err = firstRunAt(&opts.Perpetual, now, runAfter); err != nil {
			return runAfter, deadline, fmt.Errorf("localtasks: enqueue %q: %v; nothing was queued: %w", def.Name(), err, ErrInvalidTask)
		}
	}
	if !runAfter.IsZero() && (runAfter.Before(now.AddDate(-runAfterYears, 0, 0)) || runAfter.After(now.AddDate(runAfterYears, 0, 0))) {
		return runAfter, deadline, fmt.Errorf("localtasks: enqueue %q: its run-after time %v is more than %d years from now: "+
			"a run's times are kept to the nanosecond, which spans about 292 years; nothing was queued: %w",
			def.Name(), runAfter, runAfterYears, ErrInvalidTask)
	}
	deadline, err = startDeadline(def, opts, now, runAfter)
	return runAfter, deadline, err
}

// startDeadline returns the latest start opts allow a run that may start at
// runAfter (or now, if zero), enqueued now; the zero time for none.
func startDeadline(def Definition, opts *Options, now, runAfter time.Time) (time.Time, error) {
	if !opts.hasDeadline() {
		return time.Time{}, nil
	}
	start := now
	if runAfter.After(now) {
		start = runAfter
	}
	deadline := opts.Deadline
	if opts.StartWithin > 0 {
		deadline = start.Add(opts.StartWithin)
	}
	switch {
	case !deadline.After(start):
		return time.Time{}, fmt.Errorf("localtasks: enqueue %q: its deadline %v is not after %v, when it may start: "+
			"give a later deadline, or none; nothing was queued: %w", def.Name(), deadline, start, ErrInvalidTask)
	case deadline.After(now.AddDate(runAfterYears, 0, 0)):
		return time.Time{}, fmt.Errorf("localtasks: enqueue %q: its deadline %v is more than %d years from now: "+
			"a run's times are kept to the nanosecond, which spans about 292 years; nothing was queued: %w",
			def.Name(), deadline, runAfterYears, ErrInvalidTask)
	}
	return deadline, nil
}

// check validates a request to enqueue: the request itself, the caller's
// ctx, the limits against the argument type, and on a process pool the
// argument's encoding, which it returns with the limits' plan.
func (s *state) check(ctx context.Context, def Definition, args any, opts *Options) (*plan, []byte, error) {
	if err := checkRequest(s.label, s.caps, s.set.cfg.Queues, def, args, opts); err != nil {
		return nil, nil, err
	}
	name := def.Name()
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("localtasks: enqueue %q: the caller's ctx is already done, nothing was queued: %w", name, err)
	}
	lim, err := limitPlan(def, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("localtasks: enqueue %q: %v: %w", name, err, ErrInvalidTask)
	}
	if s.proc == nil && s.jr == nil {
		return lim, nil, nil
	}
	if s.proc != nil {
		if err := s.proc.checkTask(def); err != nil {
			return nil, nil, err
		}
	} else if err := def.checkCodec(); err != nil {
		return nil, nil, fmt.Errorf("%w; a backend with a journal writes each argument and result to it gob-encoded: "+
			"change the type, or use a backend without a journal; nothing was queued", err)
	}
	payload, err := def.encodeArgs(args)
	if err != nil && s.proc == nil {
		return nil, nil, fmt.Errorf("localtasks: enqueue %q: its argument, a %T, cannot be written to the backend's journal (%v): "+
			"use a type of exported fields without funcs or chans, or a backend without a journal; nothing was queued: %w", name, args, err, ErrInvalidTask)
	}
	if s.proc == nil {
		return lim, payload, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("localtasks: enqueue %q: its argument, a %T, cannot be sent to a worker process: %v; nothing was queued: %w",
			name, args, err, ErrInvalidTask)
	}
	if limit := s.proc.cfg.MaxFrameBytes - 4096; len(payload) > limit {
		return nil, nil, fmt.Errorf("localtasks: enqueue %q: its argument is %d bytes gob-encoded, above the %d that ProcessPoolConfig.MaxFrameBytes allows: "+
			"send a reference (a path, a key) instead, or raise the limit; nothing was queued: %w", name, len(payload), limit, ErrInvalidTask)
	}
	return lim, payload, nil
}

// needsRoom reports whether a request would add a run to the queue: not if
// a strike cancels it, nor if its key is held by a run it cannot replace or
// by a queued one it replaces (one out, one in). Must hold s.mu.
func (s *state) needsRoom(rec *record, opts *Options) bool {
	if len(s.strikes) > 0 && s.struck(rec.def, rec.args) != nil {
		return false
	}
	if opts.Key != "" {
		if old := s.keys[keyOf{rec.def.Name(), opts.Key}]; old != nil {
			return false
		}
	}
	return true
}

// awaitRoom returns once the queue has room for n more runs (see
// Config.MaxQueued), at once with an error matching ErrQueueFull unless
// wait, or with the ctx's error once ctx ends. It may unlock s.mu while it
// waits, and holds it again when it returns. Must hold s.mu.
func (s *state) awaitRoom(ctx context.Context, def Definition, wait bool, n int) error {
	max := s.set.cfg.MaxQueued
	if n > max {
		s.counters.QueueFull++
		return fmt.Errorf("localtasks: enqueue %q: a batch of %d runs is more than %s ever queues (MaxQueued %d): "+
			"enqueue it in smaller batches; nothing was queued: %w", def.Name(), n, s.set.label(), max, ErrQueueFull)
	}
	for s.queuedRuns()+n > max {
		if !wait {
			s.counters.QueueFull++
			return fmt.Errorf("localtasks: enqueue %q: %s has %d runs queued, and its MaxQueued is %d: "+
				"retry later, or enqueue with WithWaitForRoom to wait for room; nothing was queued: %w", def.Name(), s.set.label(), s.queuedRuns(), max, ErrQueueFull)
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.roomWaiters++
		if s.testRoomWait != nil {
			s.testRoomWait()
		}
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.roomWaiters--
		if s.closing {
			return s.closedError(def)
		}
		if err := ctx.Err(); err != nil && s.queuedRuns()+n > max {
			s.counters.QueueFull++
			return fmt.Errorf("localtasks: enqueue %q: waited for room on %s (MaxQueued %d) until the caller's ctx ended; nothing was queued: %w: %w",
				def.Name(), s.set.label(), max, ErrQueueFull, err)
		}
		s.takeInbox()
	}
	return nil
}

// plain reports whether a request can take the inbox (see post): a
// thread pool's run that may start now, with no key, limit or perpetual
// chain, on a state without MaxQueued or a journal, while no strike is in force. A
// strike may come at once after: post's runs are checked against strikes
// when a worker takes them.
func (s *state) plain(lim *plan, opts *Options, runAfter, now time.Time) bool {
	return s.mode == modePool && s.jr == nil && lim == nil && opts.Key == "" && !opts.Perpetual.enabled() && !runAfter.After(now) && !opts.hasDeadline() &&
		s.nstrikes.Load() == 0 && !s.closingNow.Load() && s.inboxLen.Load() < inboxMax && s.set.cfg.MaxQueued == 0
}

// inboxMax bounds the runs the inbox holds, so that whoever takes it in
// does a bounded amount of work under the lock: when the workers are all
// busy and runs pile up, enqueues beyond it take the lock, as before the
// inbox.
const inboxMax = 4096

// post enqueues rec, READY, without the state's lock: it pushes rec on the
// inbox, a lock-free stack that whoever next holds the lock takes in
// (takeInbox), workers first of all. It takes the lock only to wake an idle
// worker, or to settle rec at once if the state began to close meanwhile.
// Under 64 enqueuers at once this removed Enqueue's tail of milliseconds
// spent waiting for state.mu.
func (s *state) post(rec *record) {
	rec.status = StatusReady
	if s.events.Subscribed() {
		// Its EventEnqueued, before the index has it: no other goroutine
		// has rec yet, so its snapshot needs no lock (once in the index, a
		// Cancel of a listed run could change it meanwhile), and every
		// later event of the run comes after this one in the ring.
		// Without a subscriber now, takeInbox sends it, if one has come
		// by then.
		rec.announced = true
		s.events.Publish(Event{Kind: EventEnqueued, Result: s.snapshot(rec)})
	}
	s.index.put(rec)
	if s.testPosting != nil {
		s.testPosting()
	}
	s.inboxLen.Add(1)
	for {
		head := s.inbox.Load()
		rec.inbox = head
		if s.inbox.CompareAndSwap(head, rec) {
			break
		}
	}
	// A worker counts itself idle before it looks at the inbox a last time,
	// and this looks at the count after the push: one of the two sees the
	// other (sync/atomic is sequentially consistent), so no run waits in
	// the inbox while a worker sleeps.
	if s.idleWorkers.Load() > 0 || s.closingNow.Load() {
		s.mu.Lock()
		s.takeInbox()
		s.mu.Unlock()
	}
}

// takeInbox takes the runs post left in the inbox into the ready queue, in
// the order they were posted, and counts them; once the state is closing,
// it cancels them instead (transition 7). Every operation that counts runs
// or cancels one calls it first. Must hold s.mu.
func (s *state) takeInbox() {
	if s.inbox.Load() == nil {
		return // a load, not a swap: no write to the line the enqueuers share
	}
	head := s.inbox.Swap(nil)
	var first *record // the stack, reversed: oldest first
	n := int32(0)
	for head != nil {
		next := head.inbox
		head.inbox, first, head = first, head, next
		n++
	}
	s.inboxLen.Add(-n)
	for rec := first; rec != nil; {
		next := rec.inbox
		rec.inbox = nil
		s.view.count(rec, 0, StatusReady) // post made it READY, uncounted
		s.counters.Enqueued++
		s.active++
		if !rec.announced {
			s.emit(EventEnqueued, rec)
		}
		if s.closing {
			s.closeQueued(rec, s.clock.Now())
		} else {
			s.push(rec)
		}
		rec = next
	}
}

// newRecord makes the record of a new run of def with args (payload, their
// encoding on a process pool) and opts, enqueued at now, with a new ID and
// no status yet: Enqueue's, and a perpetual run's successor's. Its ID holds
// a slot of the index, which put fills and del frees.
func (s *state) newRecord(def Definition, args any, payload []byte, opts *Options, now time.Time) *record {
	queue := slices.Index(s.set.cfg.Queues, opts.Queue)
	if queue < 0 {
		panic(fmt.Sprintf("localtasks: a run of queue %q, which checkRequest did not check", opts.Queue)) // a bug of this package
	}
	rec := &record{def: def, args: args, queue: uint16(queue), priority: int8(opts.Priority),
		timeout: opts.Timeout, enqueuedAt: s.offset(now), noResult: opts.DiscardResult}
	if payload != nil {
		rec.payload = &payload
	}
	rec.slot, rec.id = s.index.newID()
	if opts.Retry.retries() {
		rec.extra().retry = opts.Retry
	}
	if opts.Tags != nil || opts.Metadata != nil {
		setTagsAndMetadata(rec.extra(), opts)
	}
	if opts.Perpetual.enabled() {
		x := rec.extra()
		x.perp = &perpetual{opts: *opts}
		x.perp.opts.Tags, x.perp.opts.Metadata = x.tags, x.meta // the copies: never changed in place
	}
	if opts.Key != "" {
		rec.extra().key = opts.Key
	}
	return rec
}

// enqueueChecks applies the strikes, the key and the limits that act at
// enqueue to rec. It returns the receipt; done says the request ends there,
// with no run queued; otherwise at is when rec may start. Must hold s.mu.
func (s *state) enqueueChecks(rec *record, opts *Options, lim *plan, now, runAfter time.Time) (r Receipt, at time.Time, done bool) {
	if st := s.struck(rec.def, rec.args); st != nil {
		s.counters.Struck++
		s.bornCancelled(rec, "struck: "+st.String(), now)
		return Receipt{ID: rec.id, Disposition: Struck}, at, true
	}
	r = Receipt{ID: rec.id, Disposition: Enqueued}
	var old *record
	k := keyOf{rec.def.Name(), opts.Key}
	if opts.Key != "" {
		if old = s.keys[k]; old != nil && (!opts.Replace || old.status == StatusRunning) {
			// A running run cannot be swapped: it keeps its key.
			return Receipt{ID: old.id, Disposition: AlreadyEnqueued}, at, true
		}
	}
	at = runAfter
	if lim != nil {
		s.attachGates(rec, lim)
		drop, t, replaced := s.admitEnqueue(rec, now, runAfter)
		if drop != "" {
			s.bornCancelled(rec, drop, now)
			return Receipt{ID: rec.id, Disposition: Dropped}, at, true
		}
		if at = t; replaced {
			r.Disposition = Replaced
		}
	}
	if opts.Key != "" {
		s.keys[k] = rec // first: old ends without its key, which rec holds
	}
	if old != nil {
		s.cancelQueued(old, "replaced by the run "+rec.id, now)
		r.Disposition = Replaced
	}
	return r, at, false
}

// place gives a new rec its first status: SCHEDULED until at, if at is
// after now, else READY (transitions 1 and 2); a recording backend only
// records it. Must hold s.mu.
func (s *state) place(rec *record, at, now time.Time) {
	s.active++
	switch {
	case s.mode == modeRecord:
		if at.After(now) {
			s.setStatus(rec, StatusScheduled)
			rec.runAfter = s.offset(at)
		} else {
			s.setStatus(rec, StatusReady)
		}
		s.recorded = append(s.recorded, rec)
	case s.mode == modeInline:
		s.setStatus(rec, StatusReady) // Enqueue runs it next, off the line (runInline)
	case at.After(now):
		s.schedule(rec, at)
	default:
		s.push(rec)
		if x := rec.x; x != nil && x.deadline != 0 {
			s.watchDeadline(rec)
		}
	}
	s.emit(EventEnqueued, rec)
}

// watchDeadline puts a READY rec on the timer heap at its deadline, where
// fire ends it CANCELLED unless it has started by then; start takes it off.
// Must hold s.mu.
func (s *state) watchDeadline(rec *record) {
	rec.x.entry = s.timed.Push(s.time(rec.x.deadline), rec)
	s.arm()
}

// missedDeadline ends a READY or SCHEDULED rec CANCELLED, for it did not
// start by its deadline (transitions 7 and 8). Must hold s.mu.
func (s *state) missedDeadline(rec *record, now time.Time) {
	s.counters.DeadlinePassed++
	s.cancelQueued(rec, "deadline passed: it had not started by "+s.time(rec.x.deadline).Format(time.RFC3339Nano), now)
}

// bornCancelled ends a new rec CANCELLED for reason before it is queued
// (transition 3). Must hold s.mu.
func (s *state) bornCancelled(rec *record, reason string, now time.Time) {
	s.setStatus(rec, StatusReady)
	s.active++
	s.counters.Enqueued++
	s.emit(EventEnqueued, rec)
	rec.extra().cancelReason = reason
	s.finalize(rec, StatusCancelled, now, false)
}

// push makes rec READY, queues it and wakes a worker. Must hold s.mu.
func (s *state) push(rec *record) {
	s.setStatus(rec, StatusReady)
	s.ready.Push(int(rec.priority), rec)
	if s.proc != nil {
		// Process-pool dispatchers choose among themselves who takes it
		// (the idle first): wake them all, if one may take it.
		s.proc.wakeForReady()
		return
	}
	// Wake a worker for each ready task that no woken worker is on its
	// way to, and no more: every wake-up may cost a system call.
	if s.idle > s.waking && s.ready.Len() > s.waking {
		s.waking++
		s.cond.Signal()
	}
}

// requeue puts rec, which a worker process was sent and did not start, back
// at the head of its line (transition 14). The caller wakes the
// dispatchers. Must hold s.mu.
func (s *state) requeue(rec *record) {
	rec.run = nil
	s.leaveQueue(rec)
	s.ready.PushFront(int(rec.priority), rec)
}

// schedule makes rec SCHEDULED until at, on the timer heap. Must hold s.mu.
func (s *state) schedule(rec *record, at time.Time) {
	s.setStatus(rec, StatusScheduled)
	rec.runAfter = s.offset(at)
	x := rec.extra()
	if x.entry != nil { // its deadline's: fire looks at the deadline too
		s.timed.Remove(x.entry)
	}
	x.entry = s.timed.Push(at, rec)
	s.arm()
}

// arm sets the timer for the earliest scheduled record. Must hold s.mu.
func (s *state) arm() {
	e, ok := s.timed.Peek()
	if !ok || s.closing {
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		return
	}
	if s.timer != nil && !e.At.Before(s.timerAt) {
		return // the timer set goes off first, and re-arms then
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerGen++
	gen := s.timerGen
	s.timerAt = e.At
	s.timer = s.clock.AfterFunc(e.At.Sub(s.clock.Now()), func() { s.fire(gen) })
}

// fire makes the records whose time has come READY (transition 4).
func (s *state) fire(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.timerGen {
		s.timer = nil
	}
	if s.closing {
		return
	}
	now := s.clock.Now()
	for {
		e, ok := s.timed.PopDue(now)
		if !ok {
			break
		}
		rec := e.Value
		x := rec.x
		x.entry = nil
		if x.deadline != 0 && rec.attempts == 0 {
			if !now.Before(s.time(x.deadline)) {
				s.missedDeadline(rec, now)
				continue
			}
			if rec.status == StatusScheduled {
				s.push(rec)
			}
			x.entry = s.timed.Push(s.time(x.deadline), rec)
			continue
		}
		s.push(rec)
	}
	s.arm()
}

// attemptInfo describes rec's next attempt, starting at now, for its ctx.
// Must hold s.mu.
func (s *state) attemptInfo(rec *record, now time.Time) taskctx.Info {
	info := taskctx.Info{ID: rec.id, Task: rec.def.Name(), Number: int(rec.attempts) + 1, Logger: s.logger,
		Hooks: &s.hooks, Ref: rec, Perpetual: rec.x != nil && rec.x.perp != nil}
	if d := rec.timeout; d > 0 {
		info.Deadline = now.Add(d)
	}
	if rec.x != nil {
		info.Carrier = rec.x.carrier
	}
	return info
}

// start marks rec RUNNING on worker at now, with run as its attempt, and
// arms its timeout (transition 5). Must hold s.mu.
func (s *state) start(rec *record, worker string, now time.Time, run attempt) {
	s.setStatus(rec, StatusRunning)
	rec.attempts++
	s.counters.Started++
	first := rec.lastAttemptedAt
	rec.lastAttemptedAt = s.offset(now)
	if rec.attempts == 1 {
		rec.worker0 = worker
	} else {
		x := rec.extra()
		x.startedAt = cmp.Or(x.startedAt, first)
		x.workers = append(x.workers, worker)
	}

	rec.run = run
	if x := rec.x; x != nil && x.entry != nil { // its deadline's: it is met
		s.timed.Remove(x.entry)
		x.entry = nil
	}
	if d := rec.timeout; d > 0 {
		x := rec.extra()
		x.extended = 0
		x.timer = s.clock.AfterFunc(d, func() {
			run.Cancel(context.DeadlineExceeded, &taskctx.TimeoutError{After: d})
		})
	}
	s.emit(EventStarted, rec)
}

// extendTimeout moves the timeout of rec's attempt run by d (ExtendTimeout),
// and returns its new deadline; a zero time if it has no timeout. Must hold
// s.mu.
func (s *state) extendTimeout(rec *record, run attempt, d time.Duration, now time.Time) (time.Time, error) {
	if rec.status != StatusRunning || rec.run != run {
		return time.Time{}, fmt.Errorf("localtasks: ExtendTimeout after the attempt ended: extend it from the task, while it runs")
	}
	x := rec.x
	if rec.timeout <= 0 || x == nil || x.timer == nil {
		return time.Time{}, nil
	}
	if !x.timer.Stop() {
		return time.Time{}, fmt.Errorf("localtasks: ExtendTimeout too late: %w already, after %v", ErrTimeout, rec.timeout+x.extended)
	}
	x.extended += d
	total := rec.timeout + x.extended
	deadline := s.time(rec.lastAttemptedAt).Add(total)
	x.timer = s.clock.AfterFunc(deadline.Sub(now), func() {
		run.Cancel(context.DeadlineExceeded, &taskctx.TimeoutError{After: total})
	})
	return deadline, nil
}

// extendCtx is ExtendTimeout for an attempt in this process, whose ctx is c.
func (s *state) extendCtx(c *taskctx.Ctx, d time.Duration) error {
	s.mu.Lock()
	deadline, err := s.extendTimeout(c.Ref.(*record), c, d, s.clock.Now())
	s.mu.Unlock()
	if !deadline.IsZero() {
		c.SetDeadline(deadline)
	}
	return err
}

// outcome is how an attempt ended, decided by judge before settle takes
// s.mu: a retry policy's Decide is the program's code.
type outcome struct {
	err    error           // nil for a success; else what TaskError describes
	final  bool            // no attempt follows: the run succeeded or failed for good
	snooze *failure.Snooze // the task snoozed: no failure, another attempt later
	wait   time.Duration   // before the retry of a failed attempt that is not final
}

// maxErrors is how many TaskErrors a run that retries forever keeps: its
// last attempts'.
const maxErrors = 32

// judge decides how rec's attempt, which returned err, ends; timedOut is
// its timeout, if it expired first. It runs outside s.mu, on the goroutine
// that ran or watched the attempt: rec's attempts and retry policy change
// only under its hand.
func judge(rec *record, timedOut *taskctx.TimeoutError, err error) outcome {
	if err == nil {
		return outcome{final: true}
	}
	var p *RetryPolicy
	if rec.x != nil {
		p = &rec.x.retry
	}
	return judgeError(p, int(rec.failures()), int(rec.maxAttempts()), timedOut, err)
}

// judgeError decides how an attempt that returned err (not nil) ends: its
// run's policy p (nil for none), the attempt's number n among those that
// did not snooze, and the number of attempts allowed; timedOut is its
// timeout, if it expired first. backendkit.Judge is it, for other backends.
func judgeError(p *RetryPolicy, n, maxAttempts int, timedOut *taskctx.TimeoutError, err error) outcome {
	if sn, ok := errors.AsType[*failure.Snooze](err); ok {
		return outcome{err: err, snooze: sn}
	}
	o := outcome{err: err}
	if pe, ok := err.(*failure.Permanent); ok {
		o.err, o.final = pe.Err, true // TaskError describes what it wraps
	} else if _, ok := errors.AsType[*failure.Permanent](err); ok {
		o.final = true
	}
	if timedOut != nil {
		o.err = &taskctx.TimeoutError{After: timedOut.After, Returned: o.err}
	}
	if o.final || p == nil || n >= maxAttempts {
		o.final = true
		return o
	}
	o.wait = backoff.Delay(n, p.Delay, p.MaxDelay, p.Multiplier, p.Jitter, rand.Float64())
	if p.Decide != nil {
		retry, wait, panicked := decide(p.Decide, n, o.err, o.wait)
		switch {
		case panicked != nil:
			o.err, o.final = fmt.Errorf("%w (RetryPolicy.Decide panicked on this error, so it is not retried: %v)", o.err, panicked), true
		case !retry:
			o.final = true
		default:
			o.wait = wait
		}
	}
	return o
}

// decide calls a retry policy's Decide, recovering its panic.
func decide(f func(int, error, time.Duration) (bool, time.Duration), n int, err error, wait time.Duration) (retry bool, delay time.Duration, panicked any) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	retry, delay = f(n, err, wait)
	return retry, delay, nil
}

// settle records the outcome of an attempt, which judge decided: the final
// status, a retry or a snooze (transitions 9 to 13). stored says the caller
// put rec in the result store already. In modeInline and modeRecord, and
// for a run of RunOnce, it reports whether the caller should run the
// attempt again at once, instead of queueing it. Must hold s.mu.
func (s *state) settle(rec *record, val any, o outcome, now time.Time, stored bool) (again bool) {
	if x := rec.x; x != nil && x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	rec.run = nil
	if rec.status != StatusRunning {
		return false // Close gave up on it and cancelled it already
	}
	s.release(rec) // the attempt is over: its concurrency slot is free
	s.leaveQueue(rec)

	switch {
	case rec.cancelling:
		s.finalize(rec, StatusCancelled, now, stored)
		return false
	case o.err == nil:
		// A task that outlived its timeout but still returned a value
		// succeeded: the timeout is a request to stop, and the work is done.
		rec.value = val
		s.finalize(rec, StatusSuccessful, now, stored)
		return false
	}

	x := rec.extra()
	if o.snooze == nil {
		if len(x.errs) == maxErrors && x.retry.MaxAttempts == RetryForever {
			x.errs = slices.Clone(x.errs[1:]) // a copy: snapshots and the journal hold the old one
		}
		x.errs = append(x.errs, taskError(int(rec.attempts), now, o.err))
	} else {
		x.snoozes++
	}
	switch {
	case o.final:
		s.finalize(rec, StatusFailed, now, stored)
		return false
	case s.closing:
		s.cancelRetry(rec, now, stored)
		return false
	}
	at := now.Add(o.wait)
	if o.snooze != nil {
		at = o.snooze.When(now)
	} else {
		s.counters.Retried++
	}
	if s.mode == modeInline || s.mode == modeRecord || x.perp != nil && x.perp.once != nil {
		// Attempted again at once, without the wait: see ImmediateBackend,
		// RunOnce and RecordingBackend.Run, whose callers run the attempts.
		s.setStatus(rec, StatusReady)
		return true
	}
	if !at.After(now) {
		s.push(rec)
		return false
	}
	s.schedule(rec, at)
	return false
}

// cancelRetry ends rec CANCELLED, instead of its retry, for the backend is
// closing (transition 11). Must hold s.mu.
func (s *state) cancelRetry(rec *record, now time.Time, stored bool) {
	rec.extra().cancelReason = "the backend closed before the task could be retried"
	s.finalize(rec, StatusCancelled, now, stored)
	s.kept(rec, StatusReady)
}

// finalize gives rec its final status and moves it to the result store,
// unless the caller stored it already. Must hold s.mu.
func (s *state) finalize(rec *record, st Status, now time.Time, stored bool) {
	s.setStatus(rec, st)
	rec.finishedAt = s.offset(now)
	s.leaveQueue(rec)
	switch st {
	case StatusSuccessful:
		s.counters.Succeeded++
	case StatusFailed:
		s.counters.Failed++
	default:
		s.counters.Cancelled++
	}
	if x := rec.x; x != nil {
		if x.entry != nil {
			s.timed.Remove(x.entry)
			x.entry = nil
			s.arm()
		}
		s.release(rec)
		if x.plan != nil {
			s.detachGates(rec, now)
		}
		held := false // rec held its key: no other run took it
		if x.key != "" {
			if k := (keyOf{rec.def.Name(), x.key}); s.keys[k] == rec {
				delete(s.keys, k)
				held = true
			}
		}
		switch {
		case x.perp == nil:
		case st != StatusCancelled:
			s.perpetuate(rec, now, false)
		case held && s.restarts(rec):
			s.perpetuate(rec, now, true) // an automatic chain, cut: see Perpetual
		}
	}
	if s.active--; s.active == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.view.finished(rec) // counted as held before an eviction can uncount it
	if rec.noResult {
		s.discard(rec, st) // see retention.go
	} else if !stored {
		rec.stored.Store(storedPublished)
		s.results.add(rec, st != StatusSuccessful)
	} else if !rec.stored.CompareAndSwap(storedNot, storedPublished) {
		s.view.dropped(rec)
		if s.jr != nil {
			s.jr.forget(rec)
		}
		s.index.del(rec) // evicted while we published it
	} else if st != StatusSuccessful {
		s.results.move(rec, true) // stored as a success: a run cancelled as it returned no error
	}
	if s.set.cfg.ResultTTL > 0 && !rec.noResult {
		s.expire(rec, now, now)
	}
	if rec.done != nil {
		close(rec.done)
		rec.done = nil // its waiters hold it; a stored record need not
	}
	s.emit(EventFinished, rec)
}

// cancelQueued ends a READY or SCHEDULED rec CANCELLED for reason
// (transitions 7 and 8). Must hold s.mu.
func (s *state) cancelQueued(rec *record, reason string, now time.Time) {
	s.cancelQueuedFor(rec, reason, ErrCancelled, now)
}

// closeQueued ends a READY or SCHEDULED rec CANCELLED as the backend closes
// (transitions 7 and 8). Must hold s.mu.
func (s *state) closeQueued(rec *record, now time.Time) {
	s.keepAsIs(rec, rec.status)
	s.cancelQueuedFor(rec, "the backend closed before the task started", ErrClosed, now)
}

func (s *state) cancelQueuedFor(rec *record, reason string, cause error, now time.Time) {
	rec.extra().cancelReason = reason
	if rec.run != nil { // sent to a worker process, not started: it must not run
		rec.run.Cancel(context.Canceled, cause)
	}
	s.finalize(rec, StatusCancelled, now, false)
}

// cancelRun cancels the run with that ID; see Backend.Cancel.
func (s *state) cancelRun(id string) error {
	rec, err := s.lookup(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.takeInbox() // rec may be there, not counted yet
	switch rec.status {
	case StatusReady, StatusScheduled:
		s.cancelQueued(rec, "cancelled before it started", s.clock.Now())
	case StatusRunning:
		if !rec.cancelling {
			rec.cancelling = true
			rec.extra().cancelReason = "cancelled while it was running"
			rec.run.Cancel(context.Canceled, ErrCancelled)
		}
	case StatusCancelled:
	default:
		return fmt.Errorf("localtasks: cancel task %s: it already finished %v: %w", id, rec.status, ErrFinished)
	}
	return nil
}

// abandon ends a running rec CANCELLED as Close gives up waiting for it
// (transition 11): its attempt is cancelled, and settles nothing when it
// returns. Must hold s.mu.
func (s *state) abandon(rec *record, now time.Time) {
	s.keepAsIs(rec, StatusRunning)
	rec.cancelling = true
	rec.extra().cancelReason = "the backend closed while the task was running"
	rec.run.Cancel(context.Canceled, ErrClosed)
	s.finalize(rec, StatusCancelled, now, false)
}
