package localtasks

import (
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
// An Automatic task starts with the backend: every ThreadPoolBackend and
// ProcessPoolBackend whose Queues hold the task's queue enqueues one run of
// it, with the zero argument, when it starts. A perpetual task without a key
// has its name as key, so a backend never holds two chains of it.
type Perpetual struct {
	Every     time.Duration
	Cron      string
	Location  *time.Location
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
// @hourly, @daily, @weekly, @monthly and @yearly.
func WithCron(expr string, loc *time.Location) Option {
	return WithPerpetual(Perpetual{Cron: expr, Location: loc, Automatic: true})
}

// perpetual is what a run of a perpetual task carries for its successor.
type perpetual struct {
	opts Options      // the run's options, which its successor gets
	next taskctx.Next // what the run asked for from inside
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
// finished, if its chain goes on. Must hold s.mu.
func (s *state) perpetuate(rec *record, now time.Time) {
	x := rec.x
	p := x.perp
	name := rec.def.Name()
	if p.next.Stop || (s.closing && s.jr == nil) {
		return
	}
	if limit, ok := s.set.cfg.Test.RunAtMost[name]; ok {
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
			q = QueueDefault
		}
		if !slices.Contains(s.set.cfg.Queues, q) {
			continue
		}
		if _, err := s.enqueue(context.Background(), def, def.zeroArgs(), opts); err != nil {
			return fmt.Errorf("localtasks: starting automatic perpetual task %q: %w", name, err)
		}
	}
	return nil
}
