package localtasks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/localtasks/localtasks/internal/uid"
)

// perpetual is what a run of a perpetual task carries for its successor.
type perpetual struct {
	opts Options // the run's options, which its successor gets
	next nextRun // what the run asked for from inside
}

// nextRun is what a perpetual run asks of its successor from inside:
// StopPerpetual, SetNextRun and SetNextArgs.
type nextRun struct {
	stop    bool
	at      time.Time
	args    any
	hasArgs bool
	payload []byte // the args gob-encoded, when they came from a worker process
}

// merge takes what o set over n.
func (n *nextRun) merge(o *nextRun) {
	n.stop = n.stop || o.stop
	if !o.at.IsZero() {
		n.at = o.at
	}
	if o.hasArgs {
		n.args, n.hasArgs, n.payload = o.args, true, o.payload
	}
}

// perpetualCtx returns the controls of the perpetual run ctx belongs to.
func perpetualCtx(ctx context.Context, what string) (*taskCtx, error) {
	c := fromContext(ctx)
	if c == nil {
		return nil, fmt.Errorf("localtasks: %s outside a task: call it with the ctx of a perpetual task's run: %w", what, ErrInvalidTask)
	}
	if !c.perpetual {
		return nil, fmt.Errorf("localtasks: %s in task %q, which is not perpetual: define it WithPerpetual or WithCron: %w", what, c.task, ErrInvalidTask)
	}
	return c, nil
}

// StopPerpetual ends the chain of the perpetual task that ctx belongs to:
// no run follows this one. It fails outside a perpetual task's run.
func StopPerpetual(ctx context.Context) error {
	c, err := perpetualCtx(ctx, "StopPerpetual")
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nextRun().stop = true
	c.mu.Unlock()
	return nil
}

// SetNextRun sets when the run that follows this one of the perpetual task
// that ctx belongs to may start, in place of its interval or cron time. It
// fails outside a perpetual task's run.
func SetNextRun(ctx context.Context, at time.Time) error {
	c, err := perpetualCtx(ctx, "SetNextRun")
	if err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("localtasks: SetNextRun with the zero time: give the time the next run may start: %w", ErrInvalidTask)
	}
	c.mu.Lock()
	c.nextRun().at = at
	c.mu.Unlock()
	return nil
}

// SetNextArgs sets the argument of the run that follows this one of the
// perpetual task that ctx belongs to. args must be of the task's argument
// type. It fails outside a perpetual task's run.
func SetNextArgs(ctx context.Context, args any) error {
	c, err := perpetualCtx(ctx, "SetNextArgs")
	if err != nil {
		return err
	}
	def, ok := Lookup(c.task)
	if !ok {
		return fmt.Errorf("localtasks: SetNextArgs: task %q is not defined in this process: %w", c.task, ErrInvalidTask)
	}
	if err := def.checkArgs(args); err != nil {
		return fmt.Errorf("localtasks: SetNextArgs: %w", err)
	}
	c.mu.Lock()
	n := c.nextRun()
	n.args, n.hasArgs = args, true
	c.mu.Unlock()
	return nil
}

// nextRun returns c's requests for the next run, made on first use. Must
// hold c.mu.
func (c *taskCtx) nextRun() *nextRun {
	if c.next == nil {
		c.next = new(nextRun)
	}
	return c.next
}

// takeNext returns what the attempt of c asked of the next run, or nil.
func (c *taskCtx) takeNext() *nextRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// firstRunAt is when a perpetual run enqueued with runAfter (zero for now)
// may start: a cron task's first is at the next time its expression names.
func firstRunAt(p *Perpetual, now, runAfter time.Time) time.Time {
	if p.Cron == "" || !runAfter.IsZero() {
		return runAfter
	}
	return cronNext(p, now)
}

func cronNext(p *Perpetual, after time.Time) time.Time {
	sched, err := parseCron(p.Cron) // checked at enqueue
	if err != nil {
		return time.Time{}
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	return sched.Next(after.In(loc))
}

// perpetuate enqueues the run that follows rec, a perpetual run that just
// finished, if its chain goes on. Must hold s.mu.
func (s *state) perpetuate(rec *record, now time.Time) {
	x := rec.x
	p := x.perp
	name := rec.def.Name()
	if p.next.stop || s.closing {
		return
	}
	if limit, ok := s.set.runAtMost[name]; ok {
		s.chainRuns[name]++
		if s.chainRuns[name] >= limit {
			return
		}
	}
	opts := &p.opts
	at := p.next.at
	switch {
	case !at.IsZero():
	case opts.Perpetual.Cron != "":
		if at = cronNext(&opts.Perpetual, now); at.IsZero() {
			s.logger.Error("localtasks: perpetual task's cron expression names no time in the years ahead: its chain ends",
				"task", name, "cron", opts.Perpetual.Cron)
			return
		}
	default:
		at = now.Add(opts.Perpetual.Every)
	}
	next := &record{def: rec.def, args: rec.args, payload: rec.payload, queue: rec.queue, priority: rec.priority,
		timeout: rec.timeout, enqueuedAt: now, maxAttempts: rec.maxAttempts}
	if p.next.hasArgs {
		next.args, next.payload = p.next.args, p.next.payload
		if s.proc != nil && next.payload == nil {
			b, err := rec.def.encodeArgs(next.args)
			if err != nil {
				s.logger.Error("localtasks: perpetual task's next argument cannot be sent to a worker process: its chain ends",
					"task", name, "error", err)
				return
			}
			next.payload = b
		}
	}
	next.key, next.id = uid.New()
	nx := next.extra()
	nx.retry = x.retry
	nx.key = x.key
	nx.perp = &perpetual{opts: p.opts}
	s.index.put(next)
	if x.plan != nil {
		s.attachGates(next, x.plan)
	}
	if nx.key != "" {
		s.keys[keyOf{name, nx.key}] = next
	}
	s.active++
	s.counters.Perpetuated++
	if at.After(now) {
		next.status, next.runAfter = StatusScheduled, next.offset(at)
		nx.entry = s.timed.Push(at, next)
		s.arm()
	} else {
		next.status = StatusReady
		s.push(next)
	}
	s.emit(EventEnqueued, next)
}

// startAutomatic enqueues a run of every automatic perpetual task whose
// queue s has, as the backend starts.
func (s *state) startAutomatic() error {
	for _, name := range Names() {
		def, _ := Lookup(name)
		opts := def.Options()
		if !opts.Perpetual.Automatic {
			continue
		}
		q := opts.Queue
		if q == "" {
			q = DefaultQueue
		}
		if !slices.Contains(s.set.queues, q) {
			continue
		}
		if _, err := s.enqueue(context.Background(), def, def.zeroArgs(), opts); err != nil {
			return fmt.Errorf("localtasks: starting automatic perpetual task %q: %w", name, err)
		}
	}
	return nil
}
