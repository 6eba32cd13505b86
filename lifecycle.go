package localtasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/localtasks/localtasks/internal/backoff"
	"github.com/localtasks/localtasks/internal/timeheap"
	"github.com/localtasks/localtasks/internal/uid"
)

// This file moves a record through its states; see docs/design.md for the
// diagram. Every transition happens under state.mu.

func (s *state) closedError(task Definition) error {
	name := "<nil>"
	if task != nil {
		name = task.Name()
	}
	return fmt.Errorf("localtasks: enqueue %q: backend %q is closed: build a new backend: %w", name, s.name, ErrClosed)
}

// enqueue validates a request and adds a record for it, unless a run of
// its key is unfinished. Nothing is queued unless it returns a nil error.
func (s *state) enqueue(ctx context.Context, def Definition, args any, opts Options) (Receipt, error) {
	if err := CheckRequest(s.name, s.caps, s.set.queues, def, args, &opts); err != nil {
		return Receipt{}, err
	}
	name := def.Name()
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("localtasks: enqueue %q: the caller's ctx is already done, nothing was queued: %w", name, err)
	}
	lim, err := limitPlan(def, &opts)
	if err != nil {
		return Receipt{}, fmt.Errorf("localtasks: enqueue %q: %v: %w", name, err, ErrInvalidTask)
	}
	var payload []byte
	if s.proc != nil {
		b, err := def.encodeArgs(args)
		if err != nil {
			return Receipt{}, fmt.Errorf("localtasks: enqueue %q: its argument, a %T, cannot be sent to a worker process (%v): "+
				"use a type of exported fields without funcs or chans, or a thread pool; nothing was queued: %w", name, args, err, ErrInvalidTask)
		}
		if limit := s.proc.cfg.MaxFrameBytes - 4096; len(b) > limit {
			return Receipt{}, fmt.Errorf("localtasks: enqueue %q: its argument is %d bytes gob-encoded, above the %d that ProcessPoolConfig.MaxFrameBytes allows: "+
				"send a reference (a path, a key) instead, or raise the limit; nothing was queued: %w", name, len(b), limit, ErrInvalidTask)
		}
		payload = b
	}

	now := s.clock.Now()
	rec := &record{def: def, args: args, queue: opts.Queue, priority: int8(opts.Priority), timeout: opts.Timeout,
		enqueuedAt: now, maxAttempts: int32(max(opts.Retry.MaxAttempts, 1))}
	rec.key, rec.id = uid.New()
	rec.payload = payload
	if rec.maxAttempts > 1 {
		rec.extra().retry = opts.Retry
	}
	runAfter := opts.RunAt
	if opts.Delay > 0 {
		runAfter = now.Add(opts.Delay)
	}
	if opts.Perpetual.enabled() {
		if opts.Key == "" {
			opts.Key = name // one chain per task
		}
		runAfter = firstRunAt(&opts.Perpetual, now, runAfter)
		rec.extra().perp = &perpetual{opts: opts}
	}
	if opts.Key != "" {
		rec.extra().key = opts.Key
	}

	// Into the index first, under its shard's lock alone, to keep the
	// state's lock short. Until it is queued below, the record has no
	// status, and nothing acts on it: no caller has its ID yet.
	s.index.put(rec)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.index.del(rec.key)
		return Receipt{}, s.closedError(def)
	}
	disp := Enqueued
	if rec.x != nil || lim != nil || len(s.strikes) > 0 {
		r, at, done := s.enqueueChecks(rec, &opts, lim, now, runAfter)
		if done {
			s.mu.Unlock()
			if r.ID != rec.id {
				s.index.del(rec.key)
			}
			return r, nil
		}
		runAfter, disp = at, r.Disposition
	}
	rec.status = StatusReady
	if runAfter.After(now) {
		rec.status, rec.runAfter = StatusScheduled, rec.offset(runAfter)
	}
	s.active++
	s.counters.Enqueued++
	switch {
	case s.mode == modeRecord:
		s.recorded = append(s.recorded, rec)
	case rec.status == StatusScheduled:
		rec.extra().entry = s.timed.Push(runAfter, rec)
		s.arm()
	case s.mode == modePool || s.mode == modeProcess:
		s.push(rec)
	}
	s.emit(EventEnqueued, rec)
	s.mu.Unlock()

	if s.mode == modeInline {
		s.runInline(rec)
	}
	return Receipt{ID: rec.id, Disposition: disp}, nil
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
	if old != nil {
		s.cancelQueued(old, "replaced by the run "+rec.id, now)
		r.Disposition = Replaced
	}
	if opts.Key != "" {
		s.keys[k] = rec
	}
	return r, at, false
}

// bornCancelled ends a new rec CANCELLED for reason before it is queued.
// Must hold s.mu.
func (s *state) bornCancelled(rec *record, reason string, now time.Time) {
	rec.status = StatusReady
	s.active++
	s.counters.Enqueued++
	s.emit(EventEnqueued, rec)
	rec.extra().cancelReason = reason
	s.finalize(rec, StatusCancelled, now, false)
}

// push queues a ready record and wakes a worker. Must hold s.mu.
func (s *state) push(rec *record) {
	s.ready.Push(int(rec.priority), rec)
	if s.proc != nil {
		// Process-pool dispatchers choose among themselves who takes it
		// (the idle first): wake them all; there are few.
		s.cond.Broadcast()
		return
	}
	// Wake a worker for each ready task that no woken worker is on its
	// way to, and no more: every wake-up may cost a system call.
	if s.idle > s.waking && s.ready.Len() > s.waking {
		s.waking++
		s.cond.Signal()
	}
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

// fire moves the records whose time has come to the ready queue.
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
		rec.x.entry, rec.status = nil, StatusReady
		s.push(rec)
	}
	s.arm()
}

// step settles the attempt a worker just ran, if any, then blocks until a
// ready record is there, starts it on the worker and returns it with its
// attempt's ctx, or returns nil once the state closes.
//
// It keeps the state's lock short, for Enqueue waits on it: a run that has
// certainly finished (it succeeded, or it has no attempt left) is stored
// before the lock is taken, the clock read for its end and the next ctx made
// before it too, and settling one run and taking the next share one trip to
// it. The next run's start is read from the clock once it is taken: a
// reading from before the wait for the lock could be earlier than the run's
// own enqueue or run-after time.
func (s *state) step(slot int, worker string, ran *record, ctx *taskCtx, val any, err error) (*record, *taskCtx) {
	var timedOut *timeoutError
	stored := false
	if ran != nil {
		timedOut = ctx.end()
		// attempts and maxAttempts change only under this worker's hand.
		if err == nil || ran.attempts >= ran.maxAttempts {
			s.results.add(ran)
			stored = true
		}
	}
	tc := new(taskCtx)
	var ended time.Time
	if ran != nil {
		ended = s.clock.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ran != nil {
		if next := ctx.takeNext(); next != nil {
			ran.x.perp.next.merge(next)
		}
		s.slotDone[slot]++
		s.settle(ran, timedOut, val, err, ended, stored)
	}
	for {
		if rec, ok := s.ready.Pop(); ok {
			if rec.status != StatusReady {
				continue // cancelled while it was queued
			}
			now := s.clock.Now()
			if (rec.x != nil || len(s.strikes) > 0) && !s.admit(rec, now) {
				continue
			}
			tc.id, tc.task, tc.attempt, tc.base = rec.id, rec.def.Name(), int(rec.attempts)+1, s.logger
			tc.perpetual = rec.x != nil && rec.x.perp != nil
			tc.report = func(d, t int64, m string) { s.setProgress(rec, tc, d, t, m) }
			if d := rec.timeout; d > 0 {
				tc.deadline = now.Add(d)
			}
			s.start(rec, worker, now, tc)
			return rec, tc
		}
		if s.closing {
			return nil, nil
		}
		s.idle++
		s.cond.Wait()
		s.idle--
		s.waking = max(s.waking-1, 0) // Broadcast wakes workers no one counted
	}
}

// start marks rec RUNNING on worker at now, with run as its attempt, and
// arms its timeout. Must hold s.mu.
func (s *state) start(rec *record, worker string, now time.Time, run attempt) {
	rec.status = StatusRunning
	rec.attempts++
	s.counters.Started++
	rec.lastAttemptedAt = rec.offset(now)
	if rec.attempts == 1 {
		rec.startedAt, rec.worker0 = rec.lastAttemptedAt, worker
	} else {
		rec.workers = append(rec.workers, worker)
	}

	rec.run = run
	if d := rec.timeout; d > 0 {
		rec.extra().timer = s.clock.AfterFunc(d, func() { run.cancel(context.DeadlineExceeded, &timeoutError{after: d}) })
	}
	s.emit(EventStarted, rec)
}

// panicError carries a recovered panic to finish.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprint(p.value) }

// execute runs one attempt through the middleware, turning a panic into an
// error.
func (s *state) execute(rec *record, ctx *taskCtx) (val any, err error) {
	defer func() {
		if v := recover(); v != nil {
			val, err = nil, &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	if len(s.set.middleware) == 0 {
		return rec.def.Call(ctx, rec.args)
	}
	var v any
	if err := s.chain(ctx, rec, func(ctx context.Context) error {
		var err error
		v, err = rec.def.Call(ctx, rec.args)
		return err
	}); err != nil {
		return nil, err
	}
	return v, nil
}

// chain runs the middleware around run, outermost first, with panics in
// the middleware turned into errors, and returns the chain's error; run
// leaves the value in the caller's variables.
func (s *state) chain(ctx *taskCtx, rec *record, run func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	mw := s.set.middleware
	ex := Execution{ID: rec.id, Task: rec.def.Name(), Attempt: ctx.attempt, Queue: rec.queue, Priority: int(rec.priority), Args: rec.args}
	next := run
	for i := len(mw) - 1; i >= 0; i-- {
		m, inner := mw[i], next
		next = func(ctx context.Context) error { return m(ctx, ex, inner) }
	}
	return next(ctx)
}

// settle records the outcome of an attempt: the final status, or a retry.
// stored says the caller put rec in the result store already. In modeInline
// it reports whether the caller should run the attempt again at once,
// instead of queueing it. Must hold s.mu.
func (s *state) settle(rec *record, timedOut *timeoutError, val any, err error, now time.Time, stored bool) (again bool) {
	if x := rec.x; x != nil && x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	rec.run = nil
	if rec.status != StatusRunning {
		return false // Close gave up on it and cancelled it already
	}
	s.release(rec) // the attempt is over: its concurrency slot is free

	switch {
	case rec.cancelling:
		s.finalize(rec, StatusCancelled, now, stored)
		return false
	case err == nil:
		// A task that outlived its timeout but still returned a value
		// succeeded: the timeout is a request to stop, and the work is done.
		rec.value = val
		s.finalize(rec, StatusSuccessful, now, stored)
		return false
	}

	if timedOut != nil {
		err = &timeoutError{after: timedOut.after, returned: err}
	}
	x := rec.extra()
	x.errs = append(x.errs, attemptError(int(rec.attempts), now, err))
	switch {
	case rec.attempts >= rec.maxAttempts:
		s.finalize(rec, StatusFailed, now, stored)
		return false
	case s.closing:
		x.cancelReason = "the backend closed before the task could be retried"
		s.finalize(rec, StatusCancelled, now, stored)
		return false
	}
	s.counters.Retried++
	if s.mode == modeInline {
		rec.status = StatusReady // retried at once, without the delay: see ImmediateBackend
		return true
	}
	p := &x.retry
	delay := backoff.Delay(int(rec.attempts), p.Delay, p.MaxDelay, p.Multiplier, p.Jitter, rand.Float64())
	if delay <= 0 {
		rec.status = StatusReady
		s.push(rec)
		return false
	}
	rec.status, rec.runAfter = StatusScheduled, rec.offset(now.Add(delay))
	x.entry = s.timed.Push(now.Add(delay), rec)
	s.arm()
	return false
}

func attemptError(attempt int, at time.Time, err error) TaskError {
	var r *remoteError
	if errors.As(err, &r) && err == error(r) {
		return TaskError{Attempt: attempt, At: at, Type: r.typ, Message: r.msg, Stack: r.stack}
	}
	var p *panicError
	if !errors.As(err, &p) {
		return newTaskError(attempt, at, err, "")
	}
	te := TaskError{Attempt: attempt, At: at, Type: fmt.Sprintf("%T", p.value), Message: fmt.Sprint(p.value), Stack: p.stack}
	if e, ok := p.value.(error); ok {
		te.err = e
	}
	return te
}

// runInline runs a record's attempts in the caller's goroutine.
func (s *state) runInline(rec *record) {
	for {
		s.mu.Lock()
		if s.closing && rec.status == StatusReady { // a retry, after Close
			rec.extra().cancelReason = "the backend closed before the task could be retried"
			s.finalize(rec, StatusCancelled, s.clock.Now(), false)
		}
		if rec.status != StatusReady {
			s.mu.Unlock()
			return
		}
		// The attempt's ctx does not descend from the caller's, as on the
		// pools: Cancel, Close and the timeout end it.
		now := s.clock.Now()
		ctx := &taskCtx{id: rec.id, task: rec.def.Name(), attempt: int(rec.attempts) + 1, base: s.logger}
		ctx.report = func(d, t int64, m string) { s.setProgress(rec, ctx, d, t, m) }
		if d := rec.timeout; d > 0 {
			ctx.deadline = now.Add(d)
		}
		s.start(rec, s.workerName(0), now, ctx)
		s.mu.Unlock()
		val, err := s.execute(rec, ctx)
		timedOut := ctx.end()
		s.mu.Lock()
		again := s.settle(rec, timedOut, val, err, s.clock.Now(), false)
		s.mu.Unlock()
		if !again {
			return
		}
	}
}

func (s *state) workerName(i int) string {
	name := s.name
	if name == "" {
		name = "private"
	}
	return fmt.Sprintf("%s:%s/%d", s.set.kind, name, i)
}

// cancelRun cancels the run with that ID; see Backend.Cancel.
func (s *state) cancelRun(id string) error {
	rec, err := s.lookup(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch rec.status {
	case StatusReady, StatusScheduled:
		s.cancelQueued(rec, "cancelled before it started", s.clock.Now())
	case StatusRunning:
		if !rec.cancelling {
			rec.cancelling = true
			rec.extra().cancelReason = "cancelled while it was running"
			rec.run.cancel(context.Canceled, ErrCancelled)
		}
	case StatusCancelled:
	default:
		return fmt.Errorf("localtasks: cancel task %s: it already finished %v: %w", id, rec.status, ErrFinished)
	}
	return nil
}

// shutdown stops the state: see holder.Close.
func (s *state) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	now := s.clock.Now()
	cancel := func(rec *record) {
		if rec.status == StatusReady || rec.status == StatusScheduled {
			rec.extra().cancelReason = "the backend closed before the task started"
			s.finalize(rec, StatusCancelled, now, false)
		}
	}
	s.ready.Drain(cancel)
	if s.proc != nil {
		s.proc.stopTaking(now)
	}
	s.timed.Drain(func(e *timeheap.Entry[*record]) {
		e.Value.x.entry = nil
		cancel(e.Value)
	})
	for _, rec := range s.recorded {
		cancel(rec)
	}
	for _, g := range s.gates {
		for _, rec := range g.waiting {
			cancel(rec)
		}
		g.waiting = nil
	}
	s.arm() // stops the timer
	s.cond.Broadcast()
	s.mu.Unlock()

	var err error
	select {
	case <-s.stopped:
	case <-ctx.Done():
		all := s.index.all()
		s.mu.Lock()
		n := 0
		now := s.clock.Now()
		for _, rec := range all {
			if rec.status == StatusRunning {
				rec.cancelling = true
				rec.extra().cancelReason = "the backend closed while the task was running"
				rec.run.cancel(context.Canceled, ErrClosed)
				s.finalize(rec, StatusCancelled, now, false)
				n++
			}
		}
		s.mu.Unlock()
		if s.proc != nil { // no worker process outlives Close
			s.proc.killAll()
			<-s.stopped
		}
		err = fmt.Errorf("localtasks: close backend %q: %d running tasks had not finished and were cancelled: %w", s.name, n, ctx.Err())
	}

	s.mu.Lock()
	s.closed = true
	for _, sub := range s.subs {
		close(sub.c)
	}
	s.subs = nil
	s.mu.Unlock()
	return err
}

// startWorkers starts n workers that run tasks from the ready queue.
func (s *state) startWorkers(n int) {
	s.running = n
	if n == 0 {
		close(s.stopped)
		return
	}
	if s.mode == modePool {
		s.slotDone = make([]uint64, n)
	}
	for i := range n {
		go s.work(i)
	}
}

// workerExited counts a worker (or slot) out, and closes stopped after the last.
func (s *state) workerExited() {
	s.mu.Lock()
	s.running--
	if s.running == 0 {
		close(s.stopped)
	}
	s.mu.Unlock()
}

func (s *state) work(slot int) {
	defer s.workerExited()
	name := s.workerName(slot)
	var (
		rec *record
		ctx *taskCtx
		val any
		err error
	)
	for {
		rec, ctx = s.step(slot, name, rec, ctx, val, err)
		if rec == nil {
			return
		}
		val, err = s.execute(rec, ctx)
	}
}
