package localtasks

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/fields"
)

// This file holds the limits on a task's runs: concurrency, rate,
// debounce and cooldown, each over the whole task or per value of a field
// of its argument. A group of runs that share a limit shares a gate; all of
// it is guarded by state.mu.

// ConcurrencyLimit bounds how many runs of a task run at once: at most Max,
// over all runs of the task, or for each value of the argument's field Per
// (for example Per: "CustomerID", at most Max runs per customer). Runs over
// the limit wait, READY, in their order, and start as runs of their group
// finish. The zero value is no limit.
type ConcurrencyLimit struct {
	Max int
	Per string // a field of the argument, such as "CustomerID" or "Order.Shop"; "" for the whole task
}

// RateLimit bounds how many runs of a task start in any Period: at most Max,
// over all runs of the task or for each value of the field Per. A run over
// the limit is rescheduled (SCHEDULED) to when a start is free, or, with
// Drop, ends CANCELLED with the reason. Every attempt counts as a start. The
// zero value is no limit.
type RateLimit struct {
	Max    int
	Period time.Duration
	Per    string
	Drop   bool
}

// Debounce runs only the last of a burst of enqueues (the trailing edge):
// each run waits Window after its enqueue, and an enqueue of the task (for
// the same value of the field Per) while an earlier one still waits replaces
// it; the earlier one ends CANCELLED. A burst that never pauses for Window
// never runs. The zero value is no debounce.
type Debounce struct {
	Window time.Duration
	Per    string
}

// Cooldown keeps only the first of the enqueues of a task (for one value of
// the field Per) within Window of each other (the leading edge): a later one
// inside the window ends CANCELLED at once, with the disposition Dropped.
// The zero value is no cooldown.
type Cooldown struct {
	Window time.Duration
	Per    string
}

// WithConcurrencyLimit bounds the task's concurrent runs; see
// ConcurrencyLimit.
func WithConcurrencyLimit(l ConcurrencyLimit) Option {
	return func(o *Options) {
		o.Concurrency = l
		o.invalid = belowOne(o.invalid, "concurrency limit", l.Max)
	}
}

// WithRateLimit bounds how often the task's runs start; see RateLimit.
func WithRateLimit(l RateLimit) Option {
	return func(o *Options) {
		o.RateLimit = l
		o.invalid = belowOne(o.invalid, "rate limit", l.Max)
	}
}

// WithDebounce runs only the last of a burst of enqueues; see Debounce.
func WithDebounce(d Debounce) Option { return func(o *Options) { o.Debounce = d } }

// WithCooldown keeps only the first of the enqueues within a window; see
// Cooldown.
func WithCooldown(c Cooldown) Option { return func(o *Options) { o.Cooldown = c } }

// belowOne keeps the first problem found by an Option.
func belowOne(prev, what string, n int) string {
	if prev != "" || n >= 1 {
		return prev
	}
	return fmt.Sprintf("%s %d is below 1: use 1 or more, or leave the option out for no limit", what, n)
}

// validateLimits checks the limits of o that need no argument type.
func (o *Options) validateLimits() error {
	if o.invalid != "" {
		return fmt.Errorf("%s", o.invalid)
	}
	c, r, d, cd := o.Concurrency, o.RateLimit, o.Debounce, o.Cooldown
	switch {
	case c.Max < 0 || c.Max == 0 && c.Per != "":
		return fmt.Errorf("concurrency limit %d is below 1: use 1 or more", c.Max)
	case r.Max < 0 || r.Max == 0 && (r.Period != 0 || r.Per != "" || r.Drop):
		return fmt.Errorf("rate limit %d is below 1: use 1 or more", r.Max)
	case r.Max > 0 && r.Period <= 0:
		return fmt.Errorf("rate limit period %v is not positive: give the period the limit counts over, such as time.Second", r.Period)
	case d.Window < 0 || d.Window == 0 && d.Per != "":
		return fmt.Errorf("debounce window %v is not positive: give the quiet time that ends a burst", d.Window)
	case cd.Window < 0 || cd.Window == 0 && cd.Per != "":
		return fmt.Errorf("cooldown window %v is not positive: give the time duplicates are dropped for", cd.Window)
	}
	return nil
}

type gateKind uint8

const (
	gateConc gateKind = iota
	gateRate
	gateDebounce
	gateCooldown
	gateKinds
)

var gateNames = [gateKinds]string{"concurrency limit", "rate limit", "debounce", "cooldown"}

// plan is the limits of one task's options, checked against its argument
// type once and cached.
type plan struct {
	specs [gateKinds]gateSpec
}

type gateSpec struct {
	on     bool
	per    string
	idx    []int // the Per field; nil for the whole task
	max    int
	window time.Duration // the rate's period, or the debounce or cooldown window
	drop   bool
}

type planKey struct {
	def Definition
	c   ConcurrencyLimit
	r   RateLimit
	d   Debounce
	cd  Cooldown
}

var plans sync.Map // planKey → *plan

func (o *Options) hasLimits() bool {
	return o.Concurrency.Max > 0 || o.RateLimit.Max > 0 || o.Debounce.Window > 0 || o.Cooldown.Window > 0
}

// limitPlan returns the plan of o's limits for def, nil if o has none, or
// an error if a Per field does not fit def's argument type.
func limitPlan(def Definition, o *Options) (*plan, error) {
	if !o.hasLimits() {
		return nil, nil
	}
	k := planKey{def, o.Concurrency, o.RateLimit, o.Debounce, o.Cooldown}
	if p, ok := plans.Load(k); ok {
		return p.(*plan), nil
	}
	p := new(plan)
	set := func(kind gateKind, on bool, per string, max int, window time.Duration, drop bool) error {
		if !on {
			return nil
		}
		sp := gateSpec{on: true, per: per, max: max, window: window, drop: drop}
		if per != "" {
			idx, ft, err := fields.Path(def.ArgsType(), per)
			if err != nil {
				return fmt.Errorf("%s per %v", gateNames[kind], err)
			}
			if !ft.Comparable() || ft.Kind() == reflect.Interface {
				return fmt.Errorf("%s per field %s: a %v cannot group runs: use a field of a comparable type, such as a number or a string", gateNames[kind], per, ft)
			}
			sp.idx = idx
		}
		p.specs[kind] = sp
		return nil
	}
	if err := set(gateConc, o.Concurrency.Max > 0, o.Concurrency.Per, o.Concurrency.Max, 0, false); err != nil {
		return nil, err
	}
	if err := set(gateRate, o.RateLimit.Max > 0, o.RateLimit.Per, o.RateLimit.Max, o.RateLimit.Period, o.RateLimit.Drop); err != nil {
		return nil, err
	}
	if err := set(gateDebounce, o.Debounce.Window > 0, o.Debounce.Per, 0, o.Debounce.Window, false); err != nil {
		return nil, err
	}
	if err := set(gateCooldown, o.Cooldown.Window > 0, o.Cooldown.Per, 0, o.Cooldown.Window, false); err != nil {
		return nil, err
	}
	plans.Store(k, p)
	return p, nil
}

// gateKey names a group of runs under one limit.
type gateKey struct {
	task string
	kind gateKind
	per  string
	val  any // the Per field's value
}

// gate is the state of a group of runs under one limit.
type gate struct {
	key     gateKey
	refs    int         // unfinished runs that belong to it
	running int         // concurrency: slots held
	waiting []*record   // concurrency: runs waiting for a slot, in order
	grants  []time.Time // rate: the latest admitted starts, at most max, in order
	pending *record     // debounce: the run waiting out its window
	until   time.Time   // cooldown: when the window ends
	window  time.Duration
}

func (g *gate) describe() string {
	if g.key.per == "" {
		return fmt.Sprintf("%s of task %q", gateNames[g.key.kind], g.key.task)
	}
	return fmt.Sprintf("%s of task %q for %s %v", gateNames[g.key.kind], g.key.task, g.key.per, g.key.val)
}

// idle reports whether g holds nothing that a later run would need.
func (g *gate) idle(now time.Time) bool {
	if g.refs > 0 || g.running > 0 || len(g.waiting) > 0 || g.pending != nil || now.Before(g.until) {
		return false
	}
	return len(g.grants) == 0 || !now.Before(g.grants[len(g.grants)-1].Add(g.window))
}

// nextStart is the earliest time from now a run may start under a rate of
// max per window: after the latest start granted, and a window after the
// max-th latest.
func (g *gate) nextStart(now time.Time, max int, window time.Duration) time.Time {
	t := now
	if n := len(g.grants); n > 0 && g.grants[n-1].After(t) {
		t = g.grants[n-1]
	}
	if n := len(g.grants); n >= max {
		if free := g.grants[n-max].Add(window); free.After(t) {
			t = free
		}
	}
	return t
}

func (g *gate) grant(t time.Time, max int) {
	if len(g.grants) >= max {
		g.grants = append(g.grants[:0], g.grants[len(g.grants)-max+1:]...)
	}
	g.grants = append(g.grants, t)
}

// attachGates puts rec in the groups of its plan. Must hold s.mu.
func (s *state) attachGates(rec *record, p *plan) {
	x := rec.extra()
	x.plan = p
	for k := range gateKinds {
		sp := &p.specs[k]
		if !sp.on {
			continue
		}
		key := gateKey{task: rec.def.Name(), kind: k, per: sp.per}
		if sp.idx != nil {
			if f, ok := fields.Of(rec.args, sp.idx); ok {
				key.val = f.Interface()
			}
		}
		g := s.gates[key]
		if g == nil {
			if s.gates == nil {
				s.gates = make(map[gateKey]*gate)
			}
			g = &gate{key: key}
			s.gates[key] = g
		}
		g.refs++
		g.window = sp.window
		x.gates[k] = g
	}
}

// detachGates takes a finished rec out of its groups. Must hold s.mu.
func (s *state) detachGates(rec *record, now time.Time) {
	x := rec.x
	for k, g := range x.gates {
		if g == nil {
			continue
		}
		x.gates[k] = nil
		g.refs--
		if g.pending == rec {
			g.pending = nil
		}
		if g.idle(now) {
			delete(s.gates, g.key)
		}
	}
	if len(s.gates) > s.gatesSweep {
		// Groups kept for a rate or cooldown window: drop those whose
		// window has passed, when there are twice as many as last time.
		for key, g := range s.gates {
			if g.idle(now) {
				delete(s.gates, key)
			}
		}
		s.gatesSweep = 2*len(s.gates) + 64
	}
}

// admitEnqueue applies the limits that act when a run is enqueued:
// cooldown and debounce. It returns a reason to drop rec, or, for a
// debounce, the time rec may start. Must hold s.mu.
func (s *state) admitEnqueue(rec *record, now time.Time, runAfter time.Time) (drop string, at time.Time, replaced bool) {
	x := rec.x
	at = runAfter
	if g := x.gates[gateCooldown]; g != nil {
		if now.Before(g.until) {
			return fmt.Sprintf("dropped by the %s: an earlier run was accepted within %v, until %s",
				g.describe(), x.plan.specs[gateCooldown].window, g.until.Format(time.RFC3339Nano)), at, false
		}
		g.until = now.Add(x.plan.specs[gateCooldown].window)
	}
	if g := x.gates[gateDebounce]; g != nil {
		if p := g.pending; p != nil && (p.status == StatusReady || p.status == StatusScheduled) {
			s.cancelQueued(p, fmt.Sprintf("debounced: replaced by the later run %s (%s)", rec.id, g.describe()), now)
			replaced = true
		}
		g.pending = rec
		if t := now.Add(x.plan.specs[gateDebounce].window); t.After(at) {
			at = t
		}
	}
	return "", at, replaced
}

// admit decides, as a worker takes rec off the ready queue, whether it
// starts now. If not, it has ended rec (struck, or dropped by a rate
// limit), parked it until a concurrency slot frees, or rescheduled it to
// when its rate allows. Must hold s.mu.
func (s *state) admit(rec *record, now time.Time) bool {
	if len(s.strikes) > 0 {
		if r := s.struck(rec.def, rec.args); r != nil {
			s.counters.Struck++
			when := "before it started"
			if rec.attempts > 0 {
				when = "before its retry"
			}
			s.cancelQueued(rec, "struck "+when+": "+r.String(), now)
			return false
		}
	}
	x := rec.x
	if x != nil && x.deadline != 0 && rec.attempts == 0 && !now.Before(s.time(x.deadline)) {
		s.missedDeadline(rec, now) // its timer has not fired yet
		return false
	}
	if x == nil || x.plan == nil {
		return true
	}
	c := x.gates[gateConc]
	if c != nil && !x.holding && c.running >= x.plan.specs[gateConc].max {
		c.waiting = append(c.waiting, rec)
		return false
	}
	if g := x.gates[gateRate]; g != nil {
		if x.granted {
			x.granted = false
		} else {
			sp := &x.plan.specs[gateRate]
			at := g.nextStart(now, sp.max, sp.window)
			if at.After(now) {
				if sp.drop {
					s.cancelQueued(rec, fmt.Sprintf("dropped by the %s: %d starts per %v", g.describe(), sp.max, sp.window), now)
					return false
				}
				g.grant(at, sp.max)
				s.release(rec) // a slot passed to it goes on to the next in line
				x.granted = true
				s.schedule(rec, at) // transition 6
				return false
			}
			g.grant(now, sp.max)
		}
	}
	if c != nil && !x.holding {
		c.running++
		x.holding = true
	}
	if g := x.gates[gateDebounce]; g != nil && g.pending == rec {
		g.pending = nil // it starts: the next enqueue starts a new burst
	}
	return true
}

// release frees rec's concurrency slot, if it holds one, passing it to the
// first run waiting for it. Must hold s.mu.
func (s *state) release(rec *record) {
	x := rec.x
	if x == nil || !x.holding {
		return
	}
	x.holding = false
	g := x.gates[gateConc]
	for len(g.waiting) > 0 {
		w := g.waiting[0]
		g.waiting[0] = nil
		g.waiting = g.waiting[1:]
		if w.status != StatusReady || w.run != nil {
			continue // cancelled while it waited
		}
		if s.closing {
			s.closeQueued(w, s.clock.Now())
			continue
		}
		w.x.holding = true // the slot passes to it: no run that came later takes it first
		s.push(w)
		return
	}
	g.running--
}
