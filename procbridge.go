package localtasks

// This file is the bridge between a state and its worker processes: it
// hands READY runs to workers (dispatch), and turns what workers report
// (started, done, progress, next) into the state's transitions.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/gobcodec"
	"github.com/localtasks/localtasks/internal/taskctx"
	"github.com/localtasks/localtasks/internal/wire"
)

// dispatch blocks until w may take ready records, and sends it as many as
// its window holds (fill); it returns false once w takes no more. They stay
// READY until w says it started them. Each run message is posted under
// s.mu, so that a Cancel, posted under s.mu too, follows it on the stream:
// a worker never hears of a cancel before the run it cancels. The caller
// sends what was posted (flushOutbox) once s.mu is released.
//
// A dispatcher waits on s.cond for one of three reasons, and is woken for
// its own: its window is full (remoteApply refills it from the reader, and
// wakes it only when it could not), another worker is idle and should take
// the next run first (p.held counts those), or nothing is ready (s.idle
// counts those; push wakes them).
func (s *state) dispatch(w *procWorker) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if w.retiring || w.gone || s.closing || w.slot >= s.workers {
			// A worker started while the pool was closing (a replacement)
			// missed stopTaking, and one started while SetMaxWorkers
			// retired its slot missed procPool.retire: it retires here.
			w.retiring = true
			w.dispatched = true
			s.maybeShut(w)
			return false
		}
		n, why := s.fill(w)
		if n > 0 {
			if s.ready.Len() > 0 && s.proc.held > 0 {
				s.cond.Broadcast() // w is no longer idle: the held may take the rest
			}
			return true
		}
		switch why {
		case fullWindow:
			s.cond.Wait()
		case heldForIdle:
			s.proc.held++
			s.cond.Wait()
			s.proc.held--
		default:
			if len(w.inflight) == 0 {
				s.proc.recallFor(w)
			}
			s.idle++
			s.cond.Wait()
			s.idle--
		}
	}
}

// Why fill stopped.
const (
	fullWindow  = iota // w has as many runs in flight as its window holds
	heldForIdle        // w has runs in flight, and another worker none
	noneReady          // nothing is ready
)

// fill posts to w ready runs while its window has room, and no other worker
// idles (a task waiting behind a long one on one worker while another
// idles would be worse than the round trip saved). It returns how many it
// posted, and why it stopped. Must hold s.mu.
//
// A suspect (procPool.suspects) goes only to a worker with nothing in
// flight, which then takes nothing else until it is done; it waits at the
// head of its line meanwhile, and the runs behind it too.
func (s *state) fill(w *procWorker) (n, why int) {
	for {
		if len(w.inflight) >= w.window || w.alone != 0 || w.stalled {
			return n, fullWindow
		}
		if len(w.inflight) > 0 && s.proc.otherIdle(w) {
			return n, heldForIdle
		}
		rec, ok := s.ready.Pop()
		if !ok {
			return n, noneReady
		}
		_, suspect := s.proc.suspects[rec]
		if rec.status != StatusReady {
			delete(s.proc.suspects, rec)
			continue
		}
		if suspect && len(w.inflight) > 0 {
			s.ready.PushFront(int(rec.priority), rec)
			return n, fullWindow // the dispatcher wakes when w's window has room again
		}
		if !s.take(rec) {
			continue // held by its queue or task
		}
		if (rec.x != nil || len(s.strikes) > 0) && !s.admit(rec, s.clock.Now()) {
			s.leaveQueue(rec)
			continue
		}
		w.seq++
		a := &remoteAttempt{w: w, seq: w.seq, graceDur: s.proc.graceFor(rec.timeout)}
		rec.run = a
		w.inflight[w.seq] = rec
		if suspect {
			delete(s.proc.suspects, rec)
			w.alone = w.seq
		}
		m := wire.ToWorker{Kind: wire.KindRun, Seq: w.seq, ID: rec.id, Task: rec.def.Name(), Attempt: int(rec.attempts) + 1,
			Args: rec.argBytes(), Timeout: rec.timeout, Perpetual: rec.x != nil && rec.x.perp != nil, Eager: suspect}
		if w.propagates && s.set.cfg.Propagator != nil {
			s.carry(&m, rec)
			a.await = m.Await
		}
		w.queue(m)
		if s.testDispatched != nil {
			s.testDispatched(rec)
		}
		n++
	}
}

// carry gives the run message m of rec what the worker, which has a
// propagator, needs to make the task's ctx descend from the attempt's: with
// middleware, which runs in the parent once the worker reports the start,
// the worker awaits the carrier of the ctx the chain passes to next
// (superviseRemote sends it); without, the ctx the task's would descend
// from is the run's own carrier, from its Enqueue, sent now. Must hold s.mu.
func (s *state) carry(m *wire.ToWorker, rec *record) {
	if len(s.set.cfg.Middleware) > 0 {
		m.Await = true
	} else if rec.x != nil {
		m.Carrier = rec.x.carrier
	}
}

// Recall. A window holds about a millisecond of work, going by the
// worker's recent runs; but a run may be much longer than those before it,
// and the runs sent behind it then wait for it to end. When a worker is
// idle (nothing in flight, nothing ready), the runs waiting behind a run
// another worker is known to run are asked back (KindRecall); the worker
// gives back those it has not started (KindRecalled), and they go back to
// the front of their line, for the idle worker to take. The worker decides,
// under the lock where it takes its next run, so a run is given back or
// run there, never both; the parent queues it again only once it is given
// back. That worker then takes nothing more until its long run ends
// (stalled). So no run waits behind a long one while a worker is free.

// recallFor asks the other workers for the runs waiting behind a run they
// are known to run, for w, which is idle. Must hold s.mu.
func (p *procPool) recallFor(w *procWorker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.workers {
		if o != w && o.waitingBehind() {
			p.s.recall(o)
		}
	}
}

// waitingBehind reports whether runs not asked back yet wait in w's window
// behind a run it is known to run. Must hold s.mu.
func (w *procWorker) waitingBehind() bool {
	return w.started != 0 && !w.gone && len(w.inflight)-1-len(w.recalled) > 0
}

// recall asks w for the runs waiting behind the one it runs, and makes it
// take no more until that one ends. Must hold s.mu.
func (s *state) recall(w *procWorker) {
	var seqs []uint64
	for seq, rec := range w.inflight {
		a, ours := rec.run.(*remoteAttempt)
		if seq > w.started && !w.recalled[seq] && rec.status == StatusReady && ours && a.w == w && a.seq == seq {
			seqs = append(seqs, seq)
		}
	}
	if len(seqs) == 0 {
		return
	}
	if w.recalled == nil {
		w.recalled = make(map[uint64]bool)
	}
	w.stalled = true
	// The worker answers in this order, and each run given back goes to
	// the front of its line: the last asked for first, so that they keep
	// their order there.
	slices.Sort(seqs)
	slices.Reverse(seqs)
	for _, seq := range seqs {
		w.recalled[seq] = true
		w.post(wire.ToWorker{Kind: wire.KindRecall, Seq: seq})
	}
}

// remoteRecalledLocked takes off w a run it gave back before it started:
// READY, it goes back to the front of its line; cancelled meanwhile, it is
// settled already. It reports whether the run is READY again. Must hold
// s.mu.
func (s *state) remoteRecalledLocked(w *procWorker, seq uint64) bool {
	delete(w.recalled, seq)
	rec := w.inflight[seq]
	if rec == nil {
		return false
	}
	delete(w.inflight, seq)
	a, ours := rec.run.(*remoteAttempt)
	if !ours || a.w != w || a.seq != seq {
		return false
	}
	if rec.status != StatusReady {
		rec.run = nil
		return false
	}
	s.requeue(rec)
	if s.proc.testRecalled != nil {
		s.proc.testRecalled(rec)
	}
	return true
}

// wakeForReady wakes the dispatchers after a run became ready, if one of
// them may take it: none waits for a free place in its window. Must hold
// s.mu.
func (p *procPool) wakeForReady() {
	if p.s.idle > 0 || p.held > 0 {
		p.s.cond.Broadcast()
	}
}

// otherIdle reports whether a live worker other than w has nothing in
// flight. Must hold s.mu.
func (p *procPool) otherIdle(w *procWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.workers {
		if o != w && !o.retiring && !o.gone && len(o.inflight) == 0 {
			return true
		}
	}
	return false
}

// maybeShut ends w's input once it takes no more tasks and has none in
// flight: the worker reads EOF and exits. Must hold s.mu.
func (s *state) maybeShut(w *procWorker) {
	if w.retiring && w.dispatched && len(w.inflight) == 0 && !w.inputShut {
		w.inputShut = true
		w.closeOutbox()
	}
}

// stopTaking makes every worker take no more tasks, cancels the tasks they
// were sent and had not started, and ends the input of those with nothing
// in flight. Must hold s.mu.
func (p *procPool) stopTaking(now time.Time) {
	select {
	case <-p.closing:
	default:
		close(p.closing)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		w.retiring = true
		for _, rec := range w.inflight {
			if rec.status == StatusReady {
				p.s.closeQueued(rec, now)
			}
		}
		p.s.maybeShut(w)
	}
}

// remoteStarted marks the run w started RUNNING.
func (s *state) remoteStarted(w *procWorker, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remoteStartedLocked(w, seq)
}

// remoteStartedLocked is remoteStarted. Must hold s.mu.
func (s *state) remoteStartedLocked(w *procWorker, seq uint64) {
	rec := w.inflight[seq]
	if rec == nil {
		return
	}
	a, ours := rec.run.(*remoteAttempt)
	if !ours || a.w != w {
		return
	}
	a.begin()
	w.started = seq
	if rec.status != StatusReady {
		// Cancelled while on its way: the worker has the cancel, and its
		// grace starts now.
		a.mu.Lock()
		cause := a.cause
		a.cause = nil
		a.mu.Unlock()
		if cause != nil {
			a.Cancel(context.Canceled, cause)
		}
		return
	}
	now := s.clock.Now()
	if len(s.set.cfg.Middleware) > 0 {
		a.ctx = taskctx.New(s.attemptInfo(rec, now))
		a.result = make(chan remoteResult, 1)
	}
	s.start(rec, w.name, now, a)
	if a.ctx != nil {
		go s.superviseRemote(rec, a)
	}
}

// superviseRemote runs the middleware chain around a remote attempt, in the
// parent: the chain starts when the worker reports the start, its innermost
// next returns the worker's outcome, and what the chain returns settles the
// run. A middleware that returns without calling next cancels the attempt.
// There is one such goroutine a running task, so at most one a worker.
func (s *state) superviseRemote(rec *record, a *remoteAttempt) {
	var res remoteResult
	ran := false
	next := func(ctx context.Context) error {
		if a.await {
			// The worker waits for the trace context of ctx to run the
			// task with; a panic of Inject fails the attempt, and the
			// cancel that follows ends the worker's wait.
			a.w.post(wire.ToWorker{Kind: wire.KindCarrier, Seq: a.seq, Carrier: s.set.cfg.Propagator.Inject(ctx)})
		}
		res, ran = <-a.result, true
		return res.err
	}
	err := s.chain(a.ctx, rec, next)
	if !ran {
		a.Cancel(context.Canceled, ErrCancelled)
		res = <-a.result // wait for the worker to let go of it
	}
	a.ctx.End()
	o := judge(rec, res.timedOut, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.status == StatusRunning && rec.run == attempt(a) {
		if n := a.ctx.TakeNext(); n != nil {
			rec.x.perp.next.Merge(n) // a middleware's StopPerpetual, as on the thread pool
		}
		s.settle(rec, res.val, o, s.clock.Now(), false)
	}
}

// remoteDone settles the run w finished, or hands its outcome to the
// middleware chain that settles it.
func (s *state) remoteDone(w *procWorker, m wire.FromWorker) {
	s.remoteApply(w, []wire.FromWorker{m}, nil)
}

// remoteFinish is a done message's work between remoteApply's two turns
// under s.mu.
type remoteFinish struct {
	m                   *wire.FromWorker
	rec                 *record
	a                   *remoteAttempt
	supervised, running bool
	requeued            bool  // w dropped it before it started: it is READY again
	nextErr             error // decoding the next run's argument panicked: the attempt's error
	res                 remoteResult
	o                   outcome // judge's, for a run the chain does not settle
}

// remoteApply applies the started and done messages w sent, in order, in
// two turns under s.mu however many there are: the first marks runs
// started and takes finished ones off w; between the two, the results are
// decoded; the second settles them, and wakes the dispatchers once. The
// reader hands over every message its buffer holds at once, so a worker
// that reported many runs in one write costs the parent two lock turns
// and one wake-up, not three turns a run. It returns fin, emptied, for
// the next call to reuse.
func (s *state) remoteApply(w *procWorker, msgs []wire.FromWorker, fin []remoteFinish) []remoteFinish {
	fin = fin[:0]
	recalled := false
	s.mu.Lock()
	for i := range msgs {
		switch m := &msgs[i]; m.Kind {
		case wire.KindStarted:
			s.remoteStartedLocked(w, m.Seq)
		case wire.KindDone:
			if f, ok := s.remoteDoneLocked(w, m); ok {
				fin = append(fin, f)
			}
		case wire.KindRecalled:
			recalled = s.remoteRecalledLocked(w, m.Seq) || recalled
		}
	}
	if w.waitingBehind() && s.proc.otherIdle(w) {
		s.recall(w) // w runs a run long enough to be reported, and another worker is idle
	}
	if len(fin) == 0 {
		if recalled {
			s.cond.Broadcast() // the idle dispatchers take what w gave back
		}
		s.maybeShut(w)
		s.mu.Unlock()
		return fin
	}
	s.mu.Unlock()

	for i := range fin {
		f := &fin[i]
		if !f.supervised && !f.running {
			continue
		}
		f.res.timedOut = f.a.end()
		if e := f.m.Err; e != nil {
			f.res.err = remoteError(e)
		} else if f.res.val, f.res.err = f.rec.def.decodeResult(f.m.Value); f.res.err != nil {
			f.res.val, f.res.err = nil, decodeFailure("its result", f.res.err)
		} else if f.nextErr != nil {
			f.res.val, f.res.err = nil, f.nextErr
		}
		if f.supervised {
			f.a.result <- f.res
		} else {
			f.o = judge(f.rec, f.res.timedOut, f.res.err)
		}
	}

	s.mu.Lock()
	var now time.Time
	wake := recalled
	for i := range fin {
		f := &fin[i]
		if f.running && f.rec.status == StatusRunning && f.rec.run == attempt(f.a) {
			if now.IsZero() {
				now = s.clock.Now()
			}
			s.settle(f.rec, f.res.val, f.o, now, false)
		}
		if f.supervised || f.running {
			w.finished++
			if n := s.proc.cfg.MaxTasksPerWorker; n > 0 && w.finished >= n && !w.retiring {
				w.retiring = true // its dispatcher stops; the slot starts a fresh worker
				wake = true
			}
		}
		wake = wake || f.requeued
		fin[i] = remoteFinish{}
	}
	s.maybeShut(w)
	// Refill w's window here, on the reader's turn, rather than wake its
	// dispatcher and then its writer for each run: in a steady stream of
	// runs nobody else wakes. The dispatchers wake if w's window still
	// has room (its dispatcher must wait for the right reason), a run was
	// queued again, or w retires.
	posted := 0
	if !w.retiring && !w.gone && !s.closing {
		posted, _ = s.fill(w)
	}
	if wake || len(w.inflight) < w.window {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if posted > 0 {
		w.flushOutbox()
	}
	return fin
}

// remoteDoneLocked takes the run m finished off w, and says what is left
// to do; false if w had no such run. Must hold s.mu.
func (s *state) remoteDoneLocked(w *procWorker, m *wire.FromWorker) (remoteFinish, bool) {
	rec := w.inflight[m.Seq]
	if rec == nil {
		return remoteFinish{}, false
	}
	delete(w.inflight, m.Seq)
	delete(w.recalled, m.Seq) // it had started when the recall came
	if w.started == m.Seq {
		w.started, w.stalled = 0, false
	}
	a, ours := rec.run.(*remoteAttempt)
	ours = ours && a.w == w && a.seq == m.Seq
	var nextErr error
	if ours && m.Next != nil && rec.x != nil && rec.x.perp != nil {
		var next *taskctx.Next
		next, nextErr = s.remoteNext(rec, m.Next)
		rec.x.perp.next.Merge(next)
	}
	supervised := ours && a.result != nil
	running := ours && !supervised && rec.status == StatusRunning
	requeued := false
	if ours && !supervised && !running {
		if rec.status == StatusReady { // the worker dropped it without a cancel: queue it again
			s.requeue(rec)
			requeued = true
		} else {
			a.end() // cancelled on its way: the grace its start armed is over
			rec.run = nil
		}
	}
	if w.alone == m.Seq {
		w.alone = 0
	}
	if supervised || running {
		w.sized(time.Duration(m.Took))
	}
	return remoteFinish{m: m, rec: rec, a: a, supervised: supervised, running: running, requeued: requeued, nextErr: nextErr}, true
}

// remoteProgress records a progress report of the run w has as m.Seq.
func (s *state) remoteProgress(w *procWorker, m wire.FromWorker) {
	if rec, a := s.remoteRun(w, m.Seq); a != nil {
		s.setProgress(rec, a, m.Done, m.Total, m.Line) // if it still runs that attempt
	}
}

// remoteRun returns the run w has as seq, with its attempt there; a nil
// attempt if w has no such run.
func (s *state) remoteRun(w *procWorker, seq uint64) (*record, *remoteAttempt) {
	s.mu.Lock()
	rec := w.inflight[seq]
	var run attempt
	if rec != nil {
		run = rec.run
	}
	s.mu.Unlock()
	if a, ok := run.(*remoteAttempt); ok && a.w == w && a.seq == seq {
		return rec, a
	}
	return nil, nil
}

// remoteMetadata records a metadata pair the run w has as m.Seq set.
func (s *state) remoteMetadata(w *procWorker, m wire.FromWorker) {
	if rec, a := s.remoteRun(w, m.Seq); a != nil {
		if err := s.setMetadata(rec, a, m.Meta.Key, m.Meta.Value); err != nil { // if it still runs that attempt
			s.logger.Warn("localtasks: SetMetadata dropped a pair: "+err.Error(), "task", rec.def.Name(), "task_id", rec.id, "key", m.Meta.Key)
		}
	}
}

// remoteExtend extends the timeout of the run w has as m.Seq, as the task
// asked with ExtendTimeout in the worker.
func (s *state) remoteExtend(w *procWorker, m wire.FromWorker) {
	s.mu.Lock()
	rec := w.inflight[m.Seq]
	if rec == nil || m.Extend <= 0 {
		s.mu.Unlock()
		return
	}
	a, ok := rec.run.(*remoteAttempt)
	if !ok || a.w != w || a.seq != m.Seq {
		s.mu.Unlock()
		return
	}
	deadline, err := s.extendTimeout(rec, a, m.Extend, s.clock.Now())
	s.mu.Unlock()
	switch {
	case err != nil:
		s.logger.Warn("localtasks: a worker's ExtendTimeout came too late: "+err.Error(), "task", rec.def.Name(), "task_id", rec.id)
	case a.ctx != nil && !deadline.IsZero():
		a.ctx.SetDeadline(deadline) // the middleware's ctx
	}
}

// remoteNext decodes what a worker's perpetual run asked of its next run.
// An argument that cannot be decoded is logged, and the next run keeps
// this one's; one whose decoding panicked (the type's own GobDecode) is
// also returned, to fail the attempt as a panic would.
func (s *state) remoteNext(rec *record, m *wire.Next) (*taskctx.Next, error) {
	n := &taskctx.Next{Stop: m.Stop}
	if m.At != 0 {
		n.At = time.Unix(0, m.At)
	}
	if m.SetArgs {
		args, err := rec.def.decodeArgs(m.Args)
		if _, ok := errors.AsType[*gobcodec.PanicError](err); ok {
			return n, decodeFailure("the next run's argument", err)
		}
		if err != nil {
			s.logger.Error("localtasks: a perpetual task's next argument from its worker cannot be decoded: the next run keeps this one's",
				"task", rec.def.Name(), "task_id", rec.id, "error", err)
			return n, nil
		}
		n.Args, n.HasArgs, n.Payload = args, true, m.Args
	}
	return n, nil
}

// remoteError is the error of an attempt that failed in a worker as e
// describes: its report, with the registered errors it matched there, and
// Permanent or Snooze around it as the task returned them.
func remoteError(e *wire.Error) error {
	var err error = &failure.Remote{Report: failure.Report{Type: e.Type, Message: e.Message, Stack: e.Stack},
		Matches: failure.Rebuild(e.Matches)}
	switch {
	case e.Snooze:
		sn := &failure.Snooze{For: e.SnoozeFor}
		if e.SnoozeAt != 0 {
			sn.At = time.Unix(0, e.SnoozeAt)
		}
		err = sn
	case e.Permanent:
		err = &failure.Permanent{Err: err}
	}
	return err
}

// decodeFailure is the error of an attempt whose outcome (what) the parent
// could not decode. A panic of the type's own decoding method stays a
// panic, with its stack, as a task's own panic would: TaskError shows
// where it happened.
func decodeFailure(what string, err error) error {
	err = fmt.Errorf("decoding %s in the parent: %w", what, err)
	if p, ok := errors.AsType[*gobcodec.PanicError](err); ok {
		return &failure.Recovered{Value: err, Stack: p.Stack}
	}
	return err
}

// remoteLog keeps on its run the log record, or printed line, m that w
// sent for the run it has as m.Seq (keepLog), and returns that run's ID and
// task; "" if w has no such run.
func (s *state) remoteLog(w *procWorker, m *wire.FromWorker) (id, task string) {
	cfg := &s.set.cfg.RunLogs
	keep := !cfg.Off && slog.Level(m.Level) >= cfg.Level
	s.mu.Lock()
	rec := w.inflight[m.Seq]
	if rec == nil {
		s.mu.Unlock()
		return "", ""
	}
	var logs *runLogs
	if a, ok := rec.run.(*remoteAttempt); ok && a.w == w && a.seq == m.Seq && keep {
		logs = s.logsOf(rec)
	}
	attempt := int(rec.attempts)
	s.mu.Unlock()
	if logs != nil {
		logs.add(cfg, workerLog(m, attempt, s.clock.Now()))
	}
	return rec.id, rec.def.Name()
}

// runningOn returns the ID and task of the run w has started, if any.
func (s *state) runningOn(w *procWorker) (id, task string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range w.inflight {
		if rec.status == StatusRunning {
			if a, ok := rec.run.(*remoteAttempt); ok && a.w == w {
				return rec.id, rec.def.Name()
			}
		}
	}
	return "", ""
}

// remoteAttempt is an attempt running, or dispatched to run, in a worker.
type remoteAttempt struct {
	w        *procWorker
	seq      uint64
	graceDur time.Duration // how long it may take to return once cancelled: procPool.graceFor
	// await: the worker waits for the carrier of the ctx the middleware
	// passes to next before it runs the task (state.carry).
	await bool

	mu      sync.Mutex // a leaf, taken under state.mu; see state for the lock order
	cause   error
	started bool
	ended   bool // end was called: no grace timer may be left armed
	grace   Timer

	// With middleware: the parent-side ctx the chain runs with, and where
	// the worker's outcome goes for the chain's innermost next.
	ctx    *taskctx.Ctx
	result chan remoteResult
}

// remoteResult is the outcome of a remote attempt.
type remoteResult struct {
	val      any
	err      error
	timedOut *taskctx.TimeoutError
}

// Cancel asks the worker to cancel the attempt's ctx with err for cause,
// and, once it has started, kills the worker if the task has not returned
// within its grace (procPool.graceFor).
func (a *remoteAttempt) Cancel(err, cause error) bool {
	a.mu.Lock()
	if a.cause != nil {
		a.mu.Unlock()
		return false
	}
	a.cause = cause
	started := a.started
	a.mu.Unlock()
	if a.ctx != nil {
		a.ctx.Cancel(err, cause)
	}
	m := wire.ToWorker{Kind: wire.KindCancel, Seq: a.seq, Closing: errors.Is(cause, ErrClosed)}
	if t, ok := cause.(*taskctx.TimeoutError); ok {
		m.TimedOut, m.Timeout = true, t.After
	}
	if started {
		// Armed before the cancel is posted, and stopped here if the
		// attempt ended meanwhile (it may have returned by itself): end
		// stops only the timer it sees.
		t := a.w.p.s.clock.AfterFunc(a.graceDur, func() { a.w.killIfStill(a) })
		a.mu.Lock()
		if a.ended {
			t.Stop()
		} else {
			a.grace = t
		}
		a.mu.Unlock()
	}
	a.w.post(m)
	return true
}

func (a *remoteAttempt) begin() {
	a.mu.Lock()
	a.started = true
	a.mu.Unlock()
}

// isStarted reports whether the worker has reported the start.
func (a *remoteAttempt) isStarted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started
}

// end stops the grace timer and returns the timeout that cancelled the
// attempt, if one did.
func (a *remoteAttempt) end() *taskctx.TimeoutError {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended = true
	if a.grace != nil {
		a.grace.Stop()
	}
	t, _ := a.cause.(*taskctx.TimeoutError)
	return t
}
