package localtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/localtasks/localtasks/internal/cron"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// Perpetual makes a task reschedule itself after every run that succeeds
// or fails: Every after the run ends, at the next time the cron expression
// Cron names (in Location; UTC if nil), or at the next time Schedule names.
// StopPerpetual ends the chain, as does a run that ends CANCELLED, unless
// the chain is automatic (see below). From inside, a run can change its
// successor's arguments (SetNextArgs) and time (SetNextRun).
//
// An Automatic task may be started by a backend rather than by an Enqueue:
// a backend whose Config.Automatic names it enqueues one run of it, with
// the zero argument, when it is built. Nothing starts it otherwise,
// whatever its queue: a test pool, or any pool built without the task's
// name in Config.Automatic, leaves it alone. A perpetual task without a key
// has its name as key, so a backend never holds two chains of it.
//
// A pool keeps the chain it started going while it runs: when a run of
// that chain (the one keyed by the task's name) ends CANCELLED, by Cancel
// or dropped by a rate limit, the pool starts the chain again, with the
// zero argument, at the next time its schedule names after the cancel. A
// strike that matches the run, or StopPerpetual in it, ends the chain for
// good, until the backend is built again; so does Close. A run that
// Replace swaps out hands the chain to the run that replaced it.
//
// To test one run of a perpetual or cron task, and what it asks of the run
// that follows it, use ImmediateBackend.RunOnce or RecordingBackend.RunOnce.
type Perpetual struct {
	// Every is the time from the end of one run to the start of the next.
	Every time.Duration
	// Cron is a cron expression naming the times runs start; see WithCron.
	Cron string
	// Location is the time zone Cron is read in. Defaults to UTC. It is
	// only for Cron.
	Location *time.Location
	// Schedule names the times runs start, for a schedule that neither an
	// interval nor a cron expression can say; see Schedule. Give one of
	// Every, Cron and Schedule.
	Schedule Schedule
	// Automatic lets a backend start the task: see Config.Automatic.
	Automatic bool
	// RunOnStart makes the chain's first run start at once, when the
	// chain starts (as its backend is built, for an automatic task, or at
	// Enqueue), rather than at the first time Cron or Schedule names; the
	// runs after it follow the schedule. An Every task's first run starts
	// at once anyway. A run-after time (WithRunAt, WithDelay) comes first.
	// A chain a pool starts again after a cancel does not run at once.
	RunOnStart bool
}

// Schedule names the times at which the runs of a perpetual task start,
// beside a fixed interval (Perpetual.Every) and a cron expression
// (Perpetual.Cron): set it as Perpetual.Schedule. The backend calls Next in
// its own process (the parent, on a process pool), with the time of its
// clock (Config.Test.Clock): at Enqueue, for a chain's first run, and,
// under its lock, when a run ends, for the next. Next must be quick, must
// not call the backend, and must be safe to call from several goroutines.
type Schedule interface {
	// Next returns the first time after t at which a run may start. The
	// zero time means no more runs: the chain ends there (and an Enqueue
	// that would start one fails). A time not after t is a mistake that
	// ends the chain too, logged, or fails the Enqueue.
	Next(t time.Time) time.Time
}

func (p Perpetual) enabled() bool { return p.Every > 0 || p.Cron != "" || p.Schedule != nil }

// validate checks p.
func (p Perpetual) validate() error {
	given := 0
	for _, set := range []bool{p.Every > 0, p.Cron != "", p.Schedule != nil} {
		if set {
			given++
		}
	}
	switch {
	case p.Every < 0:
		return fmt.Errorf("perpetual interval %v is negative: use a positive interval", p.Every)
	case p.Every > 0 && p.Cron != "":
		return fmt.Errorf("perpetual task has both an interval (%v) and a cron expression (%q): give one", p.Every, p.Cron)
	case given > 1:
		return fmt.Errorf("perpetual task has a Schedule and an interval or a cron expression: give one of Every, Cron and Schedule")
	case !p.enabled() && (p.Automatic || p.Location != nil || p.RunOnStart):
		return fmt.Errorf("perpetual task has no interval, no cron expression and no schedule: give Every, Cron or Schedule")
	case p.Location != nil && p.Cron == "":
		return fmt.Errorf("perpetual task has a Location but no cron expression: Location is the time zone Cron is read in; leave it out")
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
	if !c.Perpetual && c.Hooks != nil && c.Hooks.Unchained != "" {
		return nil, fmt.Errorf("localtasks: %s in task %q: %s: %w", what, c.Task, c.Hooks.Unchained, errors.ErrUnsupported)
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

// firstRunAt is when the first run of a chain, enqueued at now with
// runAfter (zero for now), may start: a cron or Schedule task's at the
// next time its schedule names, unless it runs on start. It fails for a
// Schedule that names no time after now.
func firstRunAt(p *Perpetual, now, runAfter time.Time) (time.Time, error) {
	if p.Every > 0 || p.RunOnStart || !runAfter.IsZero() {
		return runAfter, nil
	}
	at := p.next(now)
	switch {
	case at.IsZero():
		return at, fmt.Errorf("its schedule names no time after %v, for its first run: give a schedule that does, or enqueue it WithRunAt", now)
	case !at.After(now):
		return at, fmt.Errorf("its Schedule's Next(%v) returned %v, which is not after it: Next must return a later time, or the zero time for none", now, at)
	}
	return at, nil
}

// next returns the time p's schedule names after t: t plus Every, or the
// next time of Cron or Schedule. It is the zero time if there is none, or
// if p has no schedule (a journaled chain whose task lost its Schedule);
// a Schedule's time may be wrong, not after t.
func (p *Perpetual) next(t time.Time) time.Time {
	switch {
	case p.Schedule != nil:
		return p.Schedule.Next(t)
	case p.Cron != "":
		return cronNext(p, t)
	case p.Every > 0:
		return t.Add(p.Every)
	}
	return time.Time{}
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

// scheduled returns when the run after one that ended at now starts by
// opts' schedule, or the zero time, logged, if the chain ends there.
func (s *state) scheduled(name string, p *Perpetual, now time.Time) time.Time {
	at := p.next(now)
	switch {
	case at.After(now):
		return at
	case !p.enabled():
		s.logger.Error("localtasks: perpetual task has no schedule (its task, restored from the journal, no longer has its Schedule): its chain ends",
			"task", name)
	case p.Cron != "":
		s.logger.Error("localtasks: perpetual task's cron expression names no time in the years ahead: its chain ends",
			"task", name, "cron", p.Cron)
	case at.IsZero():
		s.logger.Info("localtasks: perpetual task's Schedule names no more times: its chain ends", "task", name)
	default:
		s.logger.Error("localtasks: perpetual task's Schedule returned a time not after the one it was given: its chain ends; "+
			"make Next return a later time, or the zero time for none",
			"task", name, "given", now, "returned", at)
	}
	return time.Time{}
}

// perpetuate enqueues the run that follows rec, a perpetual run that just
// finished, if its chain goes on; for a run of RunOnce it only describes
// that run. With cut, rec is the run of an automatic chain that ended
// CANCELLED (see restarts), and the run that follows starts the chain
// again: with the zero argument, at the next time its schedule names, and
// whatever rec asked of it. Must hold s.mu.
func (s *state) perpetuate(rec *record, now time.Time, cut bool) {
	x := rec.x
	p := x.perp
	name := rec.def.Name()
	if p.next.Stop || (s.closing && s.jr == nil) {
		return
	}
	if limit, ok := s.set.cfg.Test.RunAtMost[name]; ok && p.once == nil && !cut {
		s.chainRuns[name]++
		if s.chainRuns[name] >= limit {
			return
		}
	}
	opts := &p.opts
	at := p.next.At
	if at.IsZero() || cut {
		if at = s.scheduled(name, &opts.Perpetual, now); at.IsZero() {
			return
		}
	}
	args, payload := rec.args, rec.argBytes()
	switch {
	case cut:
		args, payload = rec.def.zeroArgs(), nil
	case p.next.HasArgs:
		args, payload = p.next.Args, p.next.Payload
	}
	if (s.proc != nil || s.jr != nil) && payload == nil {
		b, err := rec.def.encodeArgs(args)
		if err != nil {
			s.logger.Error("localtasks: perpetual task's next argument cannot be encoded for a worker process or the journal: its chain ends",
				"task", name, "error", err)
			return
		}
		payload = b
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
	if cut {
		s.logger.Info("localtasks: a run of an automatic task was cancelled: its chain starts again at its next time",
			"task", name, "cancelled", rec.id, "next", next.id, "at", at)
	}
	s.place(next, at, now)
}

// restarts reports whether the pool starts again the chain of rec, a
// perpetual run that just ended CANCELLED while it held its key: whether
// rec was a run of an automatic chain this pool started (keyed by its
// task's name), cut by Cancel or a limit while the pool runs, and not by
// a strike, Close, or a StopPerpetual of its own. A run that Replace
// swapped out did not hold its key as it ended. Must hold s.mu.
func (s *state) restarts(rec *record) bool {
	p, name := rec.x.perp, rec.def.Name()
	return (s.mode == modePool || s.mode == modeProcess) && !s.closing && p.once == nil && !p.next.Stop &&
		p.opts.Perpetual.Automatic && rec.x.key == name && slices.Contains(s.set.cfg.Automatic, name) &&
		s.struck(rec.def, rec.args) == nil && s.struck(rec.def, rec.def.zeroArgs()) == nil
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
