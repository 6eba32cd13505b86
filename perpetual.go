package localtasks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/localtasks/localtasks/internal/cron"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// Perpetual makes a task reschedule itself after every run that succeeds
// or fails: Every after the run ends, or at the next time the cron
// expression Cron names (in Location; UTC if nil). A run that ends
// CANCELLED ends the chain, as does StopPerpetual. From inside, a run can
// change its successor's arguments (SetNextArgs) and time (SetNextRun).
//
// An Automatic task may be started by a backend rather than by an Enqueue:
// a backend whose Config.Automatic names the task enqueues one run of it,
// with the zero argument, when it is built. Nothing starts it otherwise,
// whatever its queue: a test pool, or any pool built without the task's name
// in Config.Automatic, leaves it alone. A perpetual task without a key has
// its name as key, so a backend never holds two chains of it.
//
// To test one run of a perpetual or cron task, and what it asks of the run
// that follows it, use ImmediateBackend.RunOnce or RecordingBackend.RunOnce.
type Perpetual struct {
	// Every is the time from the end of one run to the start of the next.
	Every time.Duration
	// Cron is a cron expression naming the times runs start; see WithCron.
	// Give Every or Cron, not both.
	Cron string
	// Location is the time zone Cron is read in. Defaults to UTC.
	Location *time.Location
	// Automatic lets a backend start the task: see Config.Automatic.
	Automatic bool
}

func (p Perpetual) enabled() bool { return p.Every > 0 || p.Cron != "" }

// validate checks p.
func (p Perpetual) validate() error {
	switch {
	case p.Every < 0:
		return fmt.Errorf("perpetual interval %v is negative: use a positive interval", p.Every)
	case p.Every > 0 && p.Cron != "":
		return fmt.Errorf("perpetual task has both an interval (%v) and a cron expression (%q): give one", p.Every, p.Cron)
	case !p.enabled() && (p.Automatic || p.Location != nil):
		return fmt.Errorf("perpetual task has no interval and no cron expression: give Every or Cron")
	}
	if p.Cron != "" {
		sched, err := cron.Cached(p.Cron)
		if err != nil {
			return err
		}
		if sched.Next(time.Now()).IsZero() {
			return fmt.Errorf("cron expression %q names no time in the years ahead (such as February 30): check its day and month fields", p.Cron)
		}
	}
	return nil
}

// WithPerpetual makes the task reschedule itself; see Perpetual.
func WithPerpetual(p Perpetual) Option { return func(o *Options) { o.Perpetual = p } }

// WithCron makes the task an automatic perpetual task that runs at the
// times the cron expression names, in loc (UTC if nil). The expression has
// five fields, "minute hour day-of-month month day-of-week", or is one of
// @hourly, @daily, @weekly, @monthly and @yearly. CronTimes lists the times
// an expression names, to check it.
//
// The task starts only on the backends whose Config.Automatic names it; on
// any other, a run starts its chain only when enqueued.
func WithCron(expr string, loc *time.Location) Option {
	return WithPerpetual(Perpetual{Cron: expr, Location: loc, Automatic: true})
}

// CronTimes returns the first n times after after that the cron expression
// expr names, in loc (UTC if nil): the times a task defined WithCron(expr,
// loc) would run, to check an expression before a program relies on it.
// The times are read as wall-clock times in loc, as a cron task's are: one
// that a daylight-saving change skips is left out, and one that it repeats
// comes once. A bad expression, or one that names no time in the years
// ahead (such as February 30), is an error matching ErrInvalidTask, the one
// Define and Enqueue give for it; so is an n below 1. Fewer than n times
// come back only if the expression names no more in the eight years after
// the last one.
func CronTimes(expr string, loc *time.Location, after time.Time, n int) ([]time.Time, error) {
	if n < 1 {
		return nil, fmt.Errorf("localtasks: CronTimes(%q) asked for %d times: ask for 1 or more: %w", expr, n, ErrInvalidTask)
	}
	sched, err := cron.Cached(expr)
	if err != nil {
		return nil, fmt.Errorf("localtasks: CronTimes: %v: fix the expression: %w", err, ErrInvalidTask)
	}
	p := Perpetual{Cron: expr, Location: loc}
	times := make([]time.Time, 0, min(n, 1024))
	for t := after; len(times) < n; {
		if t = cronNext(&p, t); t.IsZero() {
			break
		}
		times = append(times, t)
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("localtasks: CronTimes: cron expression %q names no time in the years after %v (such as February 30): check its day and month fields: %w",
			sched, after, ErrInvalidTask)
	}
	return times, nil
}

// perpetual is what a run of a perpetual task carries for its successor.
type perpetual struct {
	opts Options        // the run's options, which its successor gets
	next taskctx.Next   // what the run asked for from inside
	once *RunOnceResult // set for a run of RunOnce: its successor is described here, not enqueued
}

// perpetualCtx returns the controls of the perpetual run ctx belongs to.
func perpetualCtx(ctx context.Context, what string) (*taskctx.Ctx, error) {
	c := taskctx.From(ctx)
	if c == nil {
		return nil, fmt.Errorf("localtasks: %s outside a task: call it with the ctx of a perpetual task's run: %w", what, ErrInvalidTask)
	}
	if !c.Perpetual {
		return nil, fmt.Errorf("localtasks: %s in task %q, which is not perpetual: define it WithPerpetual or WithCron: %w", what, c.Task, ErrInvalidTask)
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
	c.SetNext(func(n *taskctx.Next) { n.Stop = true })
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
	c.SetNext(func(n *taskctx.Next) { n.At = at })
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
	def, ok := Lookup(c.Task)
	if !ok {
		return fmt.Errorf("localtasks: SetNextArgs: task %q is not defined in this process: %w", c.Task, ErrInvalidTask)
	}
	if err := def.checkArgs(args); err != nil {
		return fmt.Errorf("localtasks: SetNextArgs: %w", err)
	}
	c.SetNext(func(n *taskctx.Next) { n.Args, n.HasArgs = args, true })
	return nil
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
	sched, err := cron.Cached(p.Cron) // checked at enqueue
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
// finished, if its chain goes on; for a run of RunOnce it only describes
// that run. Must hold s.mu.
func (s *state) perpetuate(rec *record, now time.Time) {
	x := rec.x
	p := x.perp
	name := rec.def.Name()
	if p.next.Stop || (s.closing && s.jr == nil) {
		return
	}
	if limit, ok := s.set.cfg.Test.RunAtMost[name]; ok && p.once == nil {
		s.chainRuns[name]++
		if s.chainRuns[name] >= limit {
			return
		}
	}
	opts := &p.opts
	at := p.next.At
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
	args, payload := rec.args, rec.argBytes()
	if p.next.HasArgs {
		args, payload = p.next.Args, p.next.Payload
		if (s.proc != nil || s.jr != nil) && payload == nil {
			b, err := rec.def.encodeArgs(args)
			if err != nil {
				s.logger.Error("localtasks: perpetual task's next argument cannot be encoded for a worker process or the journal: its chain ends",
					"task", name, "error", err)
				return
			}
			payload = b
		}
	}
	if p.once != nil {
		p.once.Next, p.once.NextArgs = at, args
		return
	}
	next := s.newRecord(rec.def, args, payload, opts, now)
	if s.closing {
		// Only into the journal, for the chain to go on when a backend
		// opens it again.
		next.status, next.runAfter = StatusScheduled, s.offset(at)
		s.kept(next, StatusScheduled)
		return
	}
	s.index.put(next)
	if x.plan != nil {
		s.attachGates(next, x.plan)
	}
	if key := next.x.key; key != "" {
		s.keys[keyOf{name, key}] = next
	}
	s.counters.Perpetuated++
	s.place(next, at, now)
}

// checkAutomatic checks Config.Automatic, names, against the tasks defined
// now and the backend's queues, for a backend of kind.
func checkAutomatic(kind string, names, queues []string) error {
	for i, name := range names {
		if name == "" {
			return configError(kind, "Automatic name %d is empty: give the name of an automatic task, such as Report.Name()", i)
		}
		if slices.Index(names, name) != i {
			return configError(kind, "Automatic lists task %q twice: list each task once", name)
		}
		def, ok := Lookup(name)
		if !ok {
			return configError(kind, "Automatic names task %q, which is not defined: check the name, "+
				"and define the task before building the backend (a package-level Define is)", name)
		}
		opts := def.Options()
		if !opts.Perpetual.Automatic {
			return configError(kind, "Automatic names task %q, which is not automatic: define it WithCron, or WithPerpetual with Automatic: true, "+
				"or enqueue it yourself and leave it out of Automatic", name)
		}
		if q := cmp.Or(opts.Queue, QueueDefault); !slices.Contains(queues, q) {
			return configError(kind, "Automatic names task %q, whose queue %q is not one of Queues %q: add the queue to Queues", name, q, queues)
		}
	}
	return nil
}

// startAutomatic enqueues a run of every task Config.Automatic names, as
// the backend starts.
func (s *state) startAutomatic() error {
	for _, name := range s.set.cfg.Automatic {
		def, ok := Lookup(name)
		if !ok { // checked by checkAutomatic
			return fmt.Errorf("localtasks: starting automatic perpetual task %q: it is not defined: %w", name, ErrConfig)
		}
		if _, err := s.enqueue(context.Background(), def, def.zeroArgs(), def.Options()); err != nil {
			return fmt.Errorf("localtasks: starting automatic perpetual task %q: %w", name, err)
		}
	}
	return nil
}
