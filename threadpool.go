package localtasks

import (
	"cmp"
	"fmt"

	"github.com/localtasks/localtasks/internal/taskctx"
)

// ThreadPoolMaxWorkersDefault is the number of workers of a
// ThreadPoolBackend unless ThreadPoolConfig.MaxWorkers says otherwise.
const ThreadPoolMaxWorkersDefault = 10

// ThreadPoolConfig configures a ThreadPoolBackend.
type ThreadPoolConfig struct {
	Config
	// MaxWorkers is the number of goroutines that run tasks, at most that
	// many at once. Defaults to ThreadPoolMaxWorkersDefault.
	// SetMaxWorkers changes it while the pool runs.
	MaxWorkers int
}

// ThreadPoolBackend runs tasks on a pool of goroutines (MaxWorkers of them,
// which SetMaxWorkers changes at run time), for I/O-bound work: the Go
// counterpart of django-tasks-local's ThreadPoolBackend, with priorities,
// run-after times, retries, timeouts and cancellation.
//
// Enqueue never waits for the workers (BenchmarkEnqueue: 1.4 to 1.7 us on a
// 2-core machine, with 8 workers draining at once), unless the queue is full
// and the request asked to wait for room (Config.MaxQueued,
// WithWaitForRoom); there is no goroutine per task and no polling: idle
// workers sleep until a task is queued, and scheduled tasks wait on a single
// timer. docs/design.md has the costs.
type ThreadPoolBackend struct {
	holder
}

var _ Controller = (*ThreadPoolBackend)(nil)

// withDefaults returns a copy of cfg with every default applied.
func (cfg ThreadPoolConfig) withDefaults() ThreadPoolConfig {
	cfg.Config = cfg.Config.withDefaults()
	cfg.MaxWorkers = cmp.Or(cfg.MaxWorkers, ThreadPoolMaxWorkersDefault)
	return cfg
}

// validate checks cfg, as withDefaults returned it.
func (cfg ThreadPoolConfig) validate() error {
	if cfg.MaxWorkers < 0 {
		return configError("threadpool", "MaxWorkers %d is negative: use 0 for the default of %d", cfg.MaxWorkers, ThreadPoolMaxWorkersDefault)
	}
	return cfg.Config.validate("threadpool")
}

// NewThreadPool builds a ThreadPoolBackend and starts its workers, or joins
// the state of the backends already built under cfg.Name.
func NewThreadPool(cfg ThreadPoolConfig) (*ThreadPoolBackend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st := settings{kind: "threadpool", workers: cfg.MaxWorkers, cfg: cfg.Config}
	s, err := open(st, modePool, poolCapabilities, func(s *state) error {
		s.startWorkers(cfg.MaxWorkers)
		return s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &ThreadPoolBackend{holder{s: s}}, nil
}

// startWorkers starts n workers that run tasks from the ready queue.
func (s *state) startWorkers(n int) {
	s.running = n
	s.workers = n
	if n == 0 {
		close(s.stopped)
		return
	}
	if s.mode == modePool {
		s.slotDone = make([]uint64, n)
	}
	s.slotLive = make([]bool, n)
	for i := range n {
		s.slotLive[i] = true
		go s.work(i)
	}
}

// leave counts the worker (or process-pool slot) of slot out, and closes
// stopped after the last, if the state closes or SetMaxWorkers retired the
// slot; it reports false, and the worker stays, if SetMaxWorkers grew the
// pool back over the slot since the worker chose to leave: grow starts
// workers only in empty slots, so the choice and the leaving are one step
// under s.mu.
func (s *state) leave(slot int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot < s.workers && !s.closing {
		return false
	}
	s.slotLive[slot] = false
	// Drop the empty slots at the end, which Snapshot no longer lists; a
	// slot below workers stays, listed with what its worker did.
	for n := len(s.slotLive); n > s.workers && !s.slotLive[n-1]; n-- {
		s.slotLive = s.slotLive[:n-1]
		if s.mode == modePool {
			s.slotDone = s.slotDone[:n-1]
		}
	}
	s.running--
	if s.running == 0 {
		close(s.stopped)
	}
	if s.testLeft != nil {
		s.testLeft(slot)
	}
	return true
}

func (s *state) work(slot int) {
	name := s.workerName(slot)
	var (
		rec *record
		ctx *taskctx.Ctx
		val any
		err error
	)
	for {
		rec, ctx = s.step(slot, name, rec, ctx, val, err)
		if rec == nil {
			if s.leave(slot) {
				return
			}
			continue // wanted again: SetMaxWorkers grew the pool back
		}
		val, err = s.execute(rec, ctx)
	}
}

// step settles the attempt a worker just ran, if any, then blocks until a
// ready record is there, starts it on the worker and returns it with its
// attempt's ctx, or returns nil once the state closes or SetMaxWorkers
// retires the worker's slot (the run it ran is settled first).
//
// It keeps the state's lock short: a run that has certainly finished (it
// succeeded, or it has no attempt left) is stored before the lock is taken,
// and the next ctx allocated before it too; settling one run and taking the
// next share one trip to it, and one clock reading, taken under the lock: a
// reading from before the wait for the lock could be earlier than the next
// run's own enqueue or run-after time.
func (s *state) step(slot int, worker string, ran *record, ctx *taskctx.Ctx, val any, err error) (*record, *taskctx.Ctx) {
	var o outcome
	stored := false
	if ran != nil {
		o = judge(ran, ctx.End(), err)
		// A run that keeps no result is never stored (see state.discard).
		if o.final && !ran.noResult {
			s.results.store(ran, o.err != nil)
			stored = true
		}
	}
	next := new(taskctx.Ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	// One clock reading serves the end of the run that ran and the start of
	// the next, taken in the same trip to the lock; a worker that waited
	// for a run reads the clock again.
	now := s.clock.Now()
	// Take in what was posted first, so that a run that ends the last one
	// counted does not look like the end of the work to Drain while runs
	// posted before it wait.
	s.takeInbox()
	if ran != nil {
		if n := ctx.TakeNext(); n != nil {
			ran.x.perp.next.Merge(n)
		}
		s.slotDone[slot]++
		s.settle(ran, val, o, now, stored)
	}
	for {
		if slot >= s.workers {
			return nil, nil // retired; SetMaxWorkers woke it if it waited
		}
		s.takeInbox()
		if rec, ok := s.ready.Pop(); ok {
			if rec.status != StatusReady {
				continue // cancelled while it was queued
			}
			if !s.take(rec) {
				continue // held by its queue or task
			}
			if (rec.x != nil || len(s.strikes) > 0) && !s.admit(rec, now) {
				s.leaveQueue(rec)
				continue
			}
			next.Init(s.attemptInfo(rec, now))
			s.start(rec, worker, now, next)
			return rec, next
		}
		if s.closing {
			return nil, nil
		}
		s.idle++
		if s.idleWorkers.Add(1); s.inbox.Load() != nil { // see post
			s.idle--
			s.idleWorkers.Add(-1)
			continue
		}
		s.cond.Wait()
		s.idle--
		s.idleWorkers.Add(-1)
		s.waking = max(s.waking-1, 0) // Broadcast wakes workers no one counted
		now = s.clock.Now()
	}
}

func (s *state) workerName(i int) string {
	name := s.name
	if name == "" {
		name = "private"
	}
	return fmt.Sprintf("%s:%s/%d", s.set.kind, name, i)
}
