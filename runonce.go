package localtasks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// RunOnceResult is what RunOnce did: the run it made, and the run that
// would follow it in its chain, which RunOnce does not enqueue.
type RunOnceResult struct {
	// ID is the run's ID: GetResult and Wait on it give its result.
	ID string
	// Next is when the run that follows would start: the time SetNextRun
	// gave, or else the task's interval, or its next cron or Schedule
	// time, from the end of the run. It is zero when the chain would end
	// there: the run called StopPerpetual, or ended CANCELLED, or the
	// task's Schedule names no time after the end of the run.
	Next time.Time
	// NextArgs is the argument of the run that follows: what SetNextArgs
	// gave, or else the run's own. It is nil when Next is zero.
	NextArgs any
}

// runOnce makes a run of def, a perpetual task, with args, and runs it in
// the caller's goroutine: ImmediateBackend.RunOnce and
// RecordingBackend.RunOnce.
func (s *state) runOnce(ctx context.Context, def Definition, args any) (RunOnceResult, error) {
	if def == nil {
		return RunOnceResult{}, fmt.Errorf("localtasks: RunOnce of a nil task: pass a Task's Definition(): %w", ErrInvalidTask)
	}
	name := def.Name()
	opts := def.Options()
	if !opts.Perpetual.enabled() {
		return RunOnceResult{}, fmt.Errorf("localtasks: RunOnce %q: the task is not perpetual: RunOnce runs one run of a task defined WithCron or WithPerpetual; "+
			"enqueue other tasks: %w", name, ErrInvalidTask)
	}
	opts.Queue = cmp.Or(opts.Queue, QueueDefault)
	if !slices.Contains(s.set.cfg.Queues, opts.Queue) {
		return RunOnceResult{}, fmt.Errorf("localtasks: RunOnce %q: its queue %q is not one of backend %q's queues %q: add it to the backend's Config.Queues: %w",
			name, opts.Queue, s.name, s.set.cfg.Queues, ErrInvalidTask)
	}
	if err := def.checkArgs(args); err != nil {
		return RunOnceResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return RunOnceResult{}, fmt.Errorf("localtasks: RunOnce %q: the caller's ctx is already done, nothing ran: %w", name, err)
	}
	// A run of its own, outside any chain: it holds no key, so a chain of
	// the task on the backend does not meet it.
	opts.Key, opts.Replace = "", false
	once := new(RunOnceResult)
	now := s.clock.Now()
	rec := s.newRecord(def, args, nil, &opts, now)
	rec.x.perp.once = once
	once.ID = rec.id
	s.index.put(rec)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.index.del(rec)
		return RunOnceResult{}, s.closedError(def)
	}
	s.counters.Enqueued++
	s.active++
	s.setStatus(rec, StatusReady)
	s.emit(EventEnqueued, rec)
	s.mu.Unlock()

	s.runInline(rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	return *once, nil
}
