package localtasks

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
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
//
// With Group, the budget is the group's rather than the task's: the runs of
// every task whose limit names the group share it, per value of their Per
// field (compared with ==, so the fields should be of one type), as Docket's
// limit scopes and River Pro's partitions do. Every limit of a group must
// give the same Max, and all or none a Per; Define, or Enqueue for a limit
// set with Using, refuses one that differs.
type ConcurrencyLimit struct {
	Max   int
	Per   string // a field of the argument, such as "CustomerID" or "Order.Shop"; "" for the whole task
	Group string // a budget shared by the tasks that name it; "" for the task's own
}

// RateLimit bounds how many runs of a task start in any Period: at most Max,
// over all runs of the task or for each value of the field Per. A run over
// the limit is rescheduled (SCHEDULED) to when a start is free, or, with
// Drop, ends CANCELLED with the reason. Every attempt counts as a start. The
// zero value is no limit. Group shares the budget between tasks as for
// ConcurrencyLimit; the limits of a group must give the same Max and Period.
type RateLimit struct {
	Max    int
	Period time.Duration
	Per    string
	Drop   bool
	Group  string
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

// MaxLimitsPerKind bounds the limits of one kind (concurrency, rate,
// debounce, cooldown) on a task.
const MaxLimitsPerKind = 8

// WithConcurrencyLimit bounds the task's concurrent runs; see
// ConcurrencyLimit. A task may have several, on different fields or
// groups: a run starts only when each has room. One with the Per and Group
// of a limit set before replaces it (so Using can change a task's limit);
// another is added.
func WithConcurrencyLimit(l ConcurrencyLimit) Option {
	return func(o *Options) {
		o.Concurrency = setLimit(o.Concurrency, l, func(a ConcurrencyLimit) bool { return a.Per == l.Per && a.Group == l.Group })
		o.invalid = belowOne(o.invalid, "concurrency limit", l.Max)
	}
}

// WithRateLimit bounds how often the task's runs start; see RateLimit. A
// task may have several, such as 10 a second and 1000 an hour: a run starts
// only when each allows it. One with the Per, Group and Period of a limit
// set before replaces it; another is added.
func WithRateLimit(l RateLimit) Option {
	return func(o *Options) {
		o.RateLimits = setLimit(o.RateLimits, l, func(a RateLimit) bool { return a.Per == l.Per && a.Group == l.Group && a.Period == l.Period })
		o.invalid = belowOne(o.invalid, "rate limit", l.Max)
	}
}

// WithDebounce runs only the last of a burst of enqueues; see Debounce. With
// several, on different fields, an enqueue replaces the waiting run of
// each, and waits the longest window. One with the Per of a debounce set
// before replaces it.
func WithDebounce(d Debounce) Option {
	return func(o *Options) {
		o.Debounces = setLimit(o.Debounces, d, func(a Debounce) bool { return a.Per == d.Per })
	}
}

// WithCooldown keeps only the first of the enqueues within a window; see
// Cooldown. With several, on different fields, an enqueue is kept only if
// it is outside the window of each, and then opens all of them. One with
// the Per of a cooldown set before replaces it.
func WithCooldown(c Cooldown) Option {
	return func(o *Options) {
		o.Cooldowns = setLimit(o.Cooldowns, c, func(a Cooldown) bool { return a.Per == c.Per })
	}
}

// setLimit returns ls with l in place of the limit same matches, or added.
// It never writes to ls's array, which Options copied from a task share.
func setLimit[L any](ls []L, l L, same func(L) bool) []L {
	ls = slices.Clone(ls)
	if i := slices.IndexFunc(ls, same); i >= 0 {
		ls[i] = l
		return ls
	}
	return append(ls, l)
}

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
	if max(len(o.Concurrency), len(o.RateLimits), len(o.Debounces), len(o.Cooldowns)) > MaxLimitsPerKind {
		return fmt.Errorf("more than MaxLimitsPerKind (%d) limits of one kind: keep those that bound something the others do not", MaxLimitsPerKind)
	}
	for _, c := range o.Concurrency {
		if c.Max < 1 {
			return fmt.Errorf("concurrency limit %d is below 1: use 1 or more", c.Max)
		}
	}
	for _, r := range o.RateLimits {
		switch {
		case r.Max < 1:
			return fmt.Errorf("rate limit %d is below 1: use 1 or more", r.Max)
		case r.Period <= 0:
			return fmt.Errorf("rate limit period %v is not positive: give the period the limit counts over, such as time.Second", r.Period)
		}
	}
	for _, d := range o.Debounces {
		if d.Window <= 0 {
			return fmt.Errorf("debounce window %v is not positive: give the quiet time that ends a burst", d.Window)
		}
	}
	for _, cd := range o.Cooldowns {
		if cd.Window <= 0 {
			return fmt.Errorf("cooldown window %v is not positive: give the time duplicates are dropped for", cd.Window)
		}
	}
	return cmp.Or(
		twice(o.Concurrency, func(c ConcurrencyLimit) limitIdent {
			if c.Group != "" {
				return limitIdent{kind: gateConc, group: c.Group}
			}
			return limitIdent{kind: gateConc, per: c.Per}
		}),
		twice(o.RateLimits, func(r RateLimit) limitIdent {
			if r.Group != "" {
				return limitIdent{kind: gateRate, group: r.Group}
			}
			return limitIdent{kind: gateRate, per: r.Per, period: r.Period}
		}),
		twice(o.Debounces, func(d Debounce) limitIdent { return limitIdent{kind: gateDebounce, per: d.Per} }),
		twice(o.Cooldowns, func(cd Cooldown) limitIdent { return limitIdent{kind: gateCooldown, per: cd.Per} }),
	)
}

// limitIdent is what tells two limits of a task apart: two with the same
// would share one gate.
type limitIdent struct {
	kind       gateKind
	per, group string
	period     time.Duration
}

// twice reports two limits of ls with the same ident, without allocating:
// validate runs at every Enqueue.
func twice[L any](ls []L, ident func(L) limitIdent) error {
	for i := 1; i < len(ls); i++ {
		id := ident(ls[i])
		for j := range i {
			if ident(ls[j]) != id {
				continue
			}
			if id.group != "" {
				return fmt.Errorf("two %ss name group %q: give a task one limit of a kind in a group", gateNames[id.kind], id.group)
			}
			return fmt.Errorf("two %ss are per %q: give a task one limit of a kind per field (and per period, for rates)", gateNames[id.kind], id.per)
		}
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
	specs []gateSpec         // by kind, in gateKind order
	first [gateKinds + 1]int // the specs of kind k are specs[first[k]:first[k+1]]
}

// of returns the range of p.specs of kind k.
func (p *plan) of(k gateKind) (lo, hi int) { return p.first[k], p.first[k+1] }

type gateSpec struct {
	kind   gateKind
	per    string
	group  string
	idx    []int // the Per field; nil for the whole task
	max    int
	window time.Duration // the rate's period, or the debounce or cooldown window
	drop   bool
}

// planKey finds a plan: a task's options with at most one limit of each
// kind are keyed by value, without allocating; more make a string of them.
type planKey struct {
	def  Definition
	c    ConcurrencyLimit
	r    RateLimit
	d    Debounce
	cd   Cooldown
	more string
}

var plans sync.Map // planKey → *plan

func (o *Options) hasLimits() bool {
	return len(o.Concurrency) > 0 || len(o.RateLimits) > 0 || len(o.Debounces) > 0 || len(o.Cooldowns) > 0
}

func first[L any](ls []L) (l L) {
	if len(ls) > 0 {
		l = ls[0]
	}
	return l
}

// limitPlan returns the plan of o's limits for def, nil if o has none, or
// an error if a Per field does not fit def's argument type, or a group's
// limit differs from the group's.
func limitPlan(def Definition, o *Options) (*plan, error) {
	if !o.hasLimits() {
		return nil, nil
	}
	k := planKey{def: def, c: first(o.Concurrency), r: first(o.RateLimits), d: first(o.Debounces), cd: first(o.Cooldowns)}
	if max(len(o.Concurrency), len(o.RateLimits), len(o.Debounces), len(o.Cooldowns)) > 1 {
		k.more = fmt.Sprintf("%#v", [4]any{o.Concurrency, o.RateLimits, o.Debounces, o.Cooldowns})
	}
	if p, ok := plans.Load(k); ok {
		return p.(*plan), nil
	}
	if err := registerGroups(def.Name(), o); err != nil {
		return nil, err
	}
	p := new(plan)
	add := func(sp gateSpec) error {
		if sp.per != "" {
			idx, ft, err := fields.Path(def.ArgsType(), sp.per)
			if err != nil {
				return fmt.Errorf("%s per %v", gateNames[sp.kind], err)
			}
			if !ft.Comparable() || ft.Kind() == reflect.Interface {
				return fmt.Errorf("%s per field %s: a %v cannot group runs: use a field of a comparable type, such as a number or a string", gateNames[sp.kind], sp.per, ft)
			}
			sp.idx = idx
		}
		p.specs = append(p.specs, sp)
		return nil
	}
	for _, c := range o.Concurrency {
		if err := add(gateSpec{kind: gateConc, per: c.Per, group: c.Group, max: c.Max}); err != nil {
			return nil, err
		}
	}
	// A run takes the slots of its concurrency limits in this order, the
	// same for every run: the groups' by name, then the task's own by field.
	slices.SortFunc(p.specs, func(a, b gateSpec) int {
		ungrouped := func(sp gateSpec) int {
			if sp.group == "" {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(ungrouped(a), ungrouped(b)), cmp.Compare(a.group, b.group), cmp.Compare(a.per, b.per))
	})
	p.first[gateRate] = len(p.specs)
	for _, r := range o.RateLimits {
		if err := add(gateSpec{kind: gateRate, per: r.Per, group: r.Group, max: r.Max, window: r.Period, drop: r.Drop}); err != nil {
			return nil, err
		}
	}
	p.first[gateDebounce] = len(p.specs)
	for _, d := range o.Debounces {
		if err := add(gateSpec{kind: gateDebounce, per: d.Per, window: d.Window}); err != nil {
			return nil, err
		}
	}
	p.first[gateCooldown] = len(p.specs)
	for _, cd := range o.Cooldowns {
		if err := add(gateSpec{kind: gateCooldown, per: cd.Per, window: cd.Window}); err != nil {
			return nil, err
		}
	}
	p.first[gateKinds] = len(p.specs)
	plans.Store(k, p)
	return p, nil
}

// groups holds the limit groups declared so far, process-wide, so that
// every limit of a group gives the same budget.
var groups struct {
	sync.Mutex
	m map[groupKey]groupDecl
}

type groupKey struct {
	kind gateKind
	name string
}

// groupDecl is a group's budget, as its first limit declared it.
type groupDecl struct {
	max    int
	period time.Duration
	per    bool
	task   string // the task that declared it first
}

// registerGroups records the groups o's limits name, for task, or reports
// one whose budget differs from the one declared before.
func registerGroups(task string, o *Options) error {
	var decls []groupKey
	var vals []groupDecl
	for _, c := range o.Concurrency {
		if c.Group != "" {
			decls, vals = append(decls, groupKey{gateConc, c.Group}), append(vals, groupDecl{max: c.Max, per: c.Per != "", task: task})
		}
	}
	for _, r := range o.RateLimits {
		if r.Group != "" {
			decls, vals = append(decls, groupKey{gateRate, r.Group}), append(vals, groupDecl{max: r.Max, period: r.Period, per: r.Per != "", task: task})
		}
	}
	if len(decls) == 0 {
		return nil
	}
	groups.Lock()
	defer groups.Unlock()
	for i, k := range decls {
		if err := vals[i].conflict(k, groups.m[k]); err != nil {
			return err
		}
	}
	if groups.m == nil {
		groups.m = make(map[groupKey]groupDecl)
	}
	for i, k := range decls {
		if _, ok := groups.m[k]; !ok {
			groups.m[k] = vals[i]
		}
	}
	return nil
}

// conflict reports how d differs from prev, the declaration of group k
// before it, if there was one.
func (d groupDecl) conflict(k groupKey, prev groupDecl) error {
	if prev.task == "" {
		return nil
	}
	what := fmt.Sprintf("%s group %q", gateNames[k.kind], k.name)
	switch {
	case d.max != prev.max:
		return fmt.Errorf("%s has Max %d here, but task %q gave it Max %d: give every limit of a group the same Max", what, d.max, prev.task, prev.max)
	case d.period != prev.period:
		return fmt.Errorf("%s has Period %v here, but task %q gave it Period %v: give every limit of a group the same Period", what, d.period, prev.task, prev.period)
	case d.per != prev.per:
		return fmt.Errorf("%s is per a field in one of its limits and over all runs in another (task %q's and this one): give every limit of a group a Per, or none", what, prev.task)
	}
	return nil
}

// gateKey names a group of runs under one limit: a task's, or a named
// group's, shared by the tasks that name it.
type gateKey struct {
	scope string // the task's name, or the group's
	group bool
	kind  gateKind
	per   string        // the Per field, for a task's limit; a group's runs share by value whatever their field's name
	val   any           // the Per field's value
	every time.Duration // a task's rate limits: their period, as a task may have one per period
}

// gate is the state of a group of runs under one limit.
type gate struct {
	key     gateKey
	per     string      // the Per field of the limit that made it, for messages
	refs    int         // unfinished runs that belong to it
	running int         // concurrency: slots held
	waiting []*record   // concurrency: runs waiting for a slot, in order
	grants  []time.Time // rate: the latest admitted starts, at most max, in order
	pending *record     // debounce: the run waiting out its window
	until   time.Time   // cooldown: when the window ends
	window  time.Duration
}

func (g *gate) describe() string {
	what := fmt.Sprintf("%s of task %q", gateNames[g.key.kind], g.key.scope)
	if g.key.group {
		what = fmt.Sprintf("%s group %q", gateNames[g.key.kind], g.key.scope)
	}
	if g.per == "" {
		return what
	}
	return fmt.Sprintf("%s for %s %v", what, g.per, g.key.val)
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
	if n := len(p.specs); n <= len(x.inline) {
		x.gates = x.inline[:n] // most tasks have a limit or two: no allocation
	} else {
		x.gates = make([]*gate, n)
	}
	for i := range p.specs {
		sp := &p.specs[i]
		key := gateKey{scope: rec.def.Name(), kind: sp.kind, per: sp.per}
		if sp.group != "" {
			key.scope, key.group, key.per = sp.group, true, ""
		} else if sp.kind == gateRate {
			key.every = sp.window
		}
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
			g = &gate{key: key, per: sp.per}
			s.gates[key] = g
		}
		g.refs++
		g.window = sp.window
		x.gates[i] = g
	}
}

// detachGates takes a finished rec out of its groups. Must hold s.mu.
func (s *state) detachGates(rec *record, now time.Time) {
	x := rec.x
	for i, g := range x.gates {
		if g == nil {
			continue
		}
		x.gates[i] = nil
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
// debounce, the time rec may start. Every cooldown must pass before any
// window opens: a run dropped by one leaves the others as they were. Must
// hold s.mu.
func (s *state) admitEnqueue(rec *record, now time.Time, runAfter time.Time) (drop string, at time.Time, replaced bool) {
	x := rec.x
	at = runAfter
	lo, hi := x.plan.of(gateCooldown)
	for i := lo; i < hi; i++ {
		if g := x.gates[i]; now.Before(g.until) {
			return fmt.Sprintf("dropped by the %s: an earlier run was accepted within %v, until %s",
				g.describe(), x.plan.specs[i].window, g.until.Format(time.RFC3339Nano)), at, false
		}
	}
	for i := lo; i < hi; i++ {
		x.gates[i].until = now.Add(x.plan.specs[i].window)
	}
	lo, hi = x.plan.of(gateDebounce)
	for i := lo; i < hi; i++ {
		g := x.gates[i]
		if p := g.pending; p != nil && (p.status == StatusReady || p.status == StatusScheduled) {
			s.cancelQueued(p, fmt.Sprintf("debounced: replaced by the later run %s (%s)", rec.id, g.describe()), now)
			replaced = true
		}
		g.pending = rec
		if t := now.Add(x.plan.specs[i].window); t.After(at) {
			at = t
		}
	}
	return "", at, replaced
}

// admit decides, as a worker takes rec off the ready queue, whether it
// starts now. If not, it has ended rec (struck, or dropped by a rate
// limit), parked it until a concurrency slot frees, or rescheduled it to
// when its rate allows. Its rate limits grant a start only if all of them
// allow one; a run rescheduled or dropped by them gives back its
// concurrency slots. Must hold s.mu.
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
	p := x.plan
	clo, chi := p.of(gateConc)
	for i := clo; i < chi; i++ {
		g := x.gates[i]
		switch {
		case x.held&(1<<i) != 0:
		case g.running < p.specs[i].max:
			g.running++
			x.held |= 1 << i
		default:
			// It waits for this one, keeping the slots it took before
			// it: every run takes them in one order (see limitPlan), so
			// no two runs each hold what the other waits for.
			g.waiting = append(g.waiting, rec)
			return false
		}
	}
	if lo, hi := p.of(gateRate); lo < hi {
		if x.granted {
			x.granted = false
		} else {
			at := now
			for i := lo; i < hi; i++ {
				sp, g := &p.specs[i], x.gates[i]
				t := g.nextStart(now, sp.max, sp.window)
				if t.After(now) && sp.drop {
					s.cancelQueued(rec, fmt.Sprintf("dropped by the %s: %d starts per %v", g.describe(), sp.max, sp.window), now)
					return false
				}
				if t.After(at) {
					at = t
				}
			}
			// Every rate grants the same start, reserved for it if later.
			for i := lo; i < hi; i++ {
				x.gates[i].grant(at, p.specs[i].max)
			}
			if at.After(now) {
				s.release(rec) // its slots go on to the next in line
				x.granted = true
				s.schedule(rec, at) // transition 6
				return false
			}
		}
	}
	lo, hi := p.of(gateDebounce)
	for i := lo; i < hi; i++ {
		if g := x.gates[i]; g.pending == rec {
			g.pending = nil // it starts: the next enqueue starts a new burst
		}
	}
	return true
}

// release frees rec's concurrency slots, those it holds, passing each to
// the first run waiting for it. Must hold s.mu.
func (s *state) release(rec *record) {
	x := rec.x
	if x == nil || x.held == 0 {
		return
	}
	lo, hi := x.plan.of(gateConc)
	for i := lo; i < hi; i++ {
		if x.held&(1<<i) != 0 {
			x.held &^= 1 << i
			s.passSlot(x.gates[i])
		}
	}
}

// passSlot gives a slot of g, freed, to the first run waiting for it, or
// back to g. Must hold s.mu.
func (s *state) passSlot(g *gate) {
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
		// The slot passes to it: no run that came later takes it first.
		i := slices.Index(w.x.gates, g)
		w.x.held |= 1 << i
		s.push(w)
		return
	}
	g.running--
}
