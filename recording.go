package localtasks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RecordingBackend accepts tasks and runs none of them on its own, like
// Django's DummyBackend: for tests that check what a program enqueues. Runs
// stay READY (or SCHEDULED, for a future run-after time) until cancelled,
// or until the test runs them with Run or RunAll; Recorded lists them. The
// tasks its Config.Automatic names are enqueued when it is built, as on a
// pool, and recorded; RunOnce runs one run of a perpetual task. Package
// localtaskstest has assertions on what it recorded.
type RecordingBackend struct {
	holder
}

var _ Controller = (*RecordingBackend)(nil)

var recordingCapabilities = Capabilities{Defer: true, Priority: true, GetResult: true, Cancel: true, Retry: true, Timeout: true, ExtendTimeout: true, Limits: true,
	Perpetual: true, MaxQueued: true, Tags: true, Deadline: true, DiscardResult: true}

// NewRecording builds a RecordingBackend, or joins the state of the ones
// already built under cfg.Name.
func NewRecording(cfg Config) (*RecordingBackend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("recording"); err != nil {
		return nil, err
	}
	s, err := open(settings{kind: "recording", cfg: cfg}, modeRecord, recordingCapabilities, func(s *state) error {
		s.startWorkers(0)
		return s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &RecordingBackend{holder{s: s}}, nil
}

// RunOnce runs one run of a perpetual or cron task now, in the caller's
// goroutine, although the backend runs nothing else: see
// ImmediateBackend.RunOnce, which it does the same, retries back to back
// included. Recorded does not list the run; GetResult and Wait know it by
// its ID. It is for tests that check what a program enqueues and what one
// run of its perpetual task does, such as an automatic task Config.Automatic
// started, whose first run Recorded lists.
func (b *RecordingBackend) RunOnce(ctx context.Context, task Definition, args any) (RunOnceResult, error) {
	if b.closed.Load() {
		return RunOnceResult{}, b.s.closedError(task)
	}
	return b.s.runOnce(ctx, task, args)
}

// Wait returns the result of a finished run at once, and waits for a
// RUNNING one (which Run or RunAll runs in another goroutine). For a run
// that has not started it returns an error matching errors.ErrUnsupported at
// once: the recording backend runs nothing on its own, so waiting would
// never end. Run it with Run or RunAll, or use ImmediateBackend or
// ThreadPoolBackend.
func (b *RecordingBackend) Wait(ctx context.Context, id string) (TaskResult, error) {
	res, err := b.GetResult(ctx, id)
	if err != nil || res.Status.Finished() {
		return res, err
	}
	if res.Status == StatusRunning {
		return b.s.wait(ctx, id)
	}
	return TaskResult{}, fmt.Errorf("localtasks: wait for task %s: the recording backend runs nothing on its own, so it would wait forever: "+
		"run it with RecordingBackend.Run or RunAll, or use ImmediateBackend or ThreadPoolBackend: %w", id, errors.ErrUnsupported)
}

// Run runs the recorded run with that ID now, in the caller's goroutine, as
// a pool would run it: through the Config's middleware, with a task ctx
// (TaskID, Attempt, Logger, SetProgress, SetMetadata) and the run's
// timeout, its retries back to back, without the policy's delays. It
// returns the run's result once it has finished, which GetResult and Wait
// give from then on, and Recorded lists.
//
// The run may be READY or SCHEDULED: Run runs a SCHEDULED one whatever its
// run-after time. As on a pool, a run that a strike matches, or whose
// deadline has passed by the backend's clock, ends CANCELLED instead of
// running; Run returns that result. Limits that act as a run starts
// (concurrency and rate limits) do not hold it back: the test asked for it.
// The runs it enqueues are recorded, not run; a perpetual task's run
// records the run that follows it.
//
// ctx bounds the call, not the run: the task gets a ctx of its own, as on
// the pools. A run that has finished is an error matching ErrFinished, an
// unknown ID one matching ErrResultNotFound. A run that another goroutine
// is running is waited for.
func (b *RecordingBackend) Run(ctx context.Context, id string) (TaskResult, error) {
	s := b.s
	if b.closed.Load() {
		return TaskResult{}, fmt.Errorf("localtasks: run task %s: %s is closed: build a new backend: %w", id, s.set.label(), ErrClosed)
	}
	rec, err := s.lookup(id)
	if err != nil {
		return TaskResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return TaskResult{}, fmt.Errorf("localtasks: run task %s: the caller's ctx is already done, nothing ran: %w", id, err)
	}
	s.mu.Lock()
	switch st := rec.status; st {
	case StatusReady, StatusScheduled:
		return s.runRecorded(ctx, rec)
	case StatusRunning:
		s.mu.Unlock()
		return s.wait(ctx, id)
	default:
		s.mu.Unlock()
		return TaskResult{}, fmt.Errorf("localtasks: run task %s: it already finished %v: %w", id, st, ErrFinished)
	}
}

// RunAll runs, one after the other in the caller's goroutine, every
// recorded run that is due by the backend's clock when RunAll starts: the
// READY ones, and the SCHEDULED ones whose run-after time has come, in the
// order they were recorded. The runs they enqueue are recorded, and run
// too if they are due by that time, after the ones recorded before them;
// RunAll returns when no recorded run is due. So a perpetual task's next
// run, or a run enqueued with a delay, waits for a later RunAll, after the
// test has moved the clock (see localtaskstest.FakeClock); run one early
// with Run. Each run runs as Run runs it.
//
// It returns the results of the runs it ran, or ended CANCELLED for a
// strike or a passed deadline, in that order. ctx bounds the call: once it
// is done, RunAll stops between two runs and returns those results with an
// error matching ctx.Err().
func (b *RecordingBackend) RunAll(ctx context.Context) ([]TaskResult, error) {
	s := b.s
	if b.closed.Load() {
		return nil, fmt.Errorf("localtasks: run all: %s is closed: build a new backend: %w", s.set.label(), ErrClosed)
	}
	now := s.clock.Now()
	var out []TaskResult
	for i := 0; ; { // i: the first recorded run not looked at
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("localtasks: run all: the caller's ctx is done after %d runs: the others due were not run: %w", len(out), err)
		}
		s.mu.Lock()
		var rec *record
		for ; i < len(s.recorded) && rec == nil; i++ {
			r := s.recorded[i]
			if r.status == StatusReady || r.status == StatusScheduled && !s.time(r.runAfter).After(now) {
				rec = r
			}
		}
		if rec == nil {
			s.mu.Unlock()
			return out, nil
		}
		res, err := s.runRecorded(ctx, rec)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
}

// runRecorded runs rec, a READY or SCHEDULED recorded run, and returns its
// result: Run's work. Must hold s.mu, which it releases.
func (s *state) runRecorded(ctx context.Context, rec *record) (TaskResult, error) {
	if !s.readyRecorded(rec, s.clock.Now()) {
		res := s.snapshot(rec)
		s.mu.Unlock()
		return res, nil
	}
	s.mu.Unlock()
	s.runInline(rec)
	s.mu.Lock()
	if rec.status.Finished() {
		res := s.snapshot(rec)
		s.mu.Unlock()
		return res, nil
	}
	// Another goroutine's Run started it first.
	s.mu.Unlock()
	return s.wait(ctx, rec.id)
}

// readyRecorded makes rec, a READY or SCHEDULED recorded run, READY to run
// at now, whatever its run-after time, and reports whether it is. As admit
// does on a pool, it ends rec CANCELLED instead if a strike matches it or
// its deadline has passed. Must hold s.mu.
func (s *state) readyRecorded(rec *record, now time.Time) bool {
	if len(s.strikes) > 0 {
		if r := s.struck(rec.def, rec.args); r != nil {
			s.counters.Struck++
			s.cancelQueued(rec, "struck before it started: "+r.String(), now)
			return false
		}
	}
	if x := rec.x; x != nil && x.deadline != 0 && !now.Before(s.time(x.deadline)) {
		s.missedDeadline(rec, now)
		return false
	}
	if rec.status == StatusScheduled {
		s.setStatus(rec, StatusReady) // transition 4, on demand
	}
	return true
}

// Recorded returns a snapshot of every run enqueued so far, in order.
func (b *RecordingBackend) Recorded() []TaskResult {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskResult, len(s.recorded))
	for i, rec := range s.recorded {
		out[i] = s.snapshot(rec)
	}
	return out
}

// Clear forgets every run recorded so far, as if none had been enqueued,
// but for the runs that Run or RunAll is running: those stay recorded.
func (b *RecordingBackend) Clear() {
	s := b.s
	s.mu.Lock()
	var forgot, kept []*record
	for _, rec := range s.recorded {
		if rec.status == StatusRunning {
			kept = append(kept, rec)
			continue
		}
		forgot = append(forgot, rec)
		s.view.count(rec, rec.status, 0) // the finished ones: as the store drops them
		if !rec.status.Finished() {
			s.active--
		}
	}
	s.recorded = kept
	// Their keys and groups go with them; a running run keeps its own.
	clear(s.keys)
	s.gates = nil
	for _, rec := range kept {
		x := rec.x
		if x == nil {
			continue
		}
		if x.key != "" {
			s.keys[keyOf{rec.def.Name(), x.key}] = rec
		}
		for _, g := range x.gates {
			if g != nil {
				if s.gates == nil {
					s.gates = make(map[gateKey]*gate)
				}
				s.gates[g.key] = g
			}
		}
	}
	s.madeRoom()
	s.mu.Unlock()
	for _, rec := range forgot {
		s.results.remove(rec) // first: its slot is freed by the last of the two
		s.index.del(rec)
	}
}
