package localtasks

import (
	"context"

	"github.com/localtasks/localtasks/internal/taskctx"
)

// ImmediateBackend runs each task in the goroutine that enqueues it, before
// Enqueue returns, like Django's ImmediateBackend: for tests and scripts
// that want results at once. By the time Enqueue returns the ID, the run has
// finished, FAILED ones included; only invalid requests are errors.
//
// Retries run back to back, without the policy's delays, and run-after
// times are not supported (Capabilities.Defer is false). Tasks get a fresh
// ctx, not the caller's, as on the pools. Cancel is not a capability: a run
// has finished by the time its ID is known, so Cancel reports ErrFinished.
// Close does not wait for runs inside Enqueue calls of other goroutines;
// their attempts go on, and a retry not yet started ends CANCELLED.
type ImmediateBackend struct {
	holder
}

var _ Controller = (*ImmediateBackend)(nil)

var immediateCapabilities = Capabilities{Priority: true, GetResult: true, Retry: true, Timeout: true, ExtendTimeout: true, Tags: true,
	Deadline: true, DiscardResult: true}

// NewImmediate builds an ImmediateBackend, or joins the state of the ones
// already built under cfg.Name.
func NewImmediate(cfg Config) (*ImmediateBackend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("immediate"); err != nil {
		return nil, err
	}
	if len(cfg.Automatic) > 0 {
		return nil, configError("immediate", "Automatic names %q, but an ImmediateBackend runs no perpetual task: leave Automatic empty, "+
			"and run one run of a task with RunOnce", cfg.Automatic)
	}
	if cfg.MaxQueued != 0 {
		return nil, configError("immediate", "MaxQueued is %d, but an ImmediateBackend queues nothing: it runs each task in Enqueue; leave it 0", cfg.MaxQueued)
	}
	s, err := open(settings{kind: "immediate", cfg: cfg}, modeInline, immediateCapabilities, func(s *state) error {
		s.startWorkers(0)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ImmediateBackend{holder{s: s}}, nil
}

// RunOnce runs one run of a perpetual or cron task now, in the caller's
// goroutine, as a pool runs a run of the task's chain: with the task's
// options as Define set them, through the Config's middleware, with a task
// ctx (TaskID, Attempt, Logger, SetProgress, and SetNextArgs, SetNextRun and
// StopPerpetual) and the task's timeout, retries back to back. It returns
// once the run has finished, with its ID, by which GetResult and Wait give
// its result, and with what would follow it in the chain (see
// RunOnceResult); it enqueues no successor. Keys, strikes and limits do not
// apply to the run, and it counts in Counters as an enqueued run. ctx
// bounds the call, not the run.
//
// It is for tests of what a perpetual task does, which Enqueue refuses on
// this backend. The task's queue must be in Config.Queues. A task that is
// not perpetual is an error matching ErrInvalidTask.
func (b *ImmediateBackend) RunOnce(ctx context.Context, task Definition, args any) (RunOnceResult, error) {
	if b.closed.Load() {
		return RunOnceResult{}, b.s.closedError(task)
	}
	return b.s.runOnce(ctx, task, args)
}

// runInline runs a record's attempts in the caller's goroutine.
func (s *state) runInline(rec *record) {
	for {
		s.mu.Lock()
		if s.closing && rec.status == StatusReady { // a retry, after Close
			s.cancelRetry(rec, s.clock.Now(), false)
		}
		if rec.status != StatusReady {
			s.mu.Unlock()
			return
		}
		// The attempt's ctx does not descend from the caller's, as on the
		// pools: Cancel, Close and the timeout end it.
		now := s.clock.Now()
		ctx := taskctx.New(s.attemptInfo(rec, now))
		s.start(rec, s.workerName(0), now, ctx)
		s.mu.Unlock()
		val, err := s.execute(rec, ctx)
		o := judge(rec, ctx.End(), err)
		s.mu.Lock()
		if rec.x != nil && rec.x.perp != nil { // a run of RunOnce
			if n := ctx.TakeNext(); n != nil {
				rec.x.perp.next.Merge(n)
			}
		}
		again := s.settle(rec, val, o, s.clock.Now(), false)
		s.mu.Unlock()
		if !again {
			return
		}
	}
}
