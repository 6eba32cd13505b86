package localtasks

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/localtasks/localtasks/internal/cron"
)

// MaxKeyLength bounds a task key, in bytes.
const MaxKeyLength = 256

// Disposition says what Enqueue did with a request, as Docket's add does.
type Disposition uint8

// The dispositions. The zero Disposition is not one of them.
const (
	// Enqueued: a new run was queued or scheduled.
	Enqueued Disposition = iota + 1
	// AlreadyEnqueued: a run of the task with the same key is queued,
	// scheduled or running. Nothing was enqueued; the receipt (and handle)
	// is that run's.
	AlreadyEnqueued
	// Replaced: a new run was enqueued in place of a queued or scheduled
	// run of the same key (Replace) or of the same debounce group
	// (WithDebounce). That run ended CANCELLED without running.
	Replaced
	// Struck: a strike matches the request. The run was made and ended
	// CANCELLED at once, with the strike as its reason; nothing was queued.
	Struck
	// Dropped: a cooldown dropped the request (WithCooldown). The run was
	// made and ended CANCELLED at once, with the reason; nothing was queued.
	Dropped
)

var dispositionNames = [...]string{"unknown", "enqueued", "already enqueued", "replaced", "struck", "dropped"}

// String returns the disposition's name, such as "already enqueued".
func (d Disposition) String() string {
	if int(d) < len(dispositionNames) {
		return dispositionNames[d]
	}
	return fmt.Sprintf("Disposition(%d)", uint8(d))
}

// Receipt is what Backend.Enqueue returns: the ID of the run the request
// ended up with, and what became of the request.
type Receipt struct {
	// ID is the run's ID: the new run's, or for AlreadyEnqueued the
	// existing run's.
	ID string
	// Disposition says whether a run was enqueued, and if not, why.
	Disposition Disposition
}

// checkKey reports what is wrong with a task key.
func checkKey(key string) error {
	switch {
	case len(key) > MaxKeyLength:
		return fmt.Errorf("key of %d bytes is longer than MaxKeyLength (%d): use a shorter key, such as a hash of what it names", len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("key %q is not valid UTF-8: use printable text", key)
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return fmt.Errorf("key %q holds a control character: use printable text", key)
	}
	return nil
}

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

// WithKey gives the run a key: while a run of the task with that key is
// queued, scheduled or running, Enqueue with the key enqueues nothing and
// returns that run's receipt, with the disposition AlreadyEnqueued. Keys
// are per task; a key is free again once its run finishes. "" is no key.
func WithKey(key string) Option { return func(o *Options) { o.Key = key } }

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

// WithPerpetual makes the task reschedule itself; see Perpetual.
func WithPerpetual(p Perpetual) Option { return func(o *Options) { o.Perpetual = p } }

// WithCron makes the task an automatic perpetual task that runs at the
// times the cron expression names, in loc (UTC if nil). The expression has
// five fields, "minute hour day-of-month month day-of-week", or is one of
// @hourly, @daily, @weekly, @monthly and @yearly.
func WithCron(expr string, loc *time.Location) Option {
	return WithPerpetual(Perpetual{Cron: expr, Location: loc, Automatic: true})
}

// belowOne keeps the first problem found by an Option.
func belowOne(prev, what string, n int) string {
	if prev != "" || n >= 1 {
		return prev
	}
	return fmt.Sprintf("%s %d is below 1: use 1 or more, or leave the option out for no limit", what, n)
}

// validateScheduling checks the options of this file that need no
// argument type.
func (o *Options) validateScheduling() error {
	if o.invalid != "" {
		return fmt.Errorf("%s", o.invalid)
	}
	if o.Key != "" {
		if err := checkKey(o.Key); err != nil {
			return err
		}
	}
	if o.Replace && o.Key == "" {
		return fmt.Errorf("replace needs a key: call Replace with the key of the run to replace")
	}
	c, r, d, cd, p := o.Concurrency, o.RateLimit, o.Debounce, o.Cooldown, o.Perpetual
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
	case p.Every < 0:
		return fmt.Errorf("perpetual interval %v is negative: use a positive interval", p.Every)
	case p.Every > 0 && p.Cron != "":
		return fmt.Errorf("perpetual task has both an interval (%v) and a cron expression (%q): give one", p.Every, p.Cron)
	case !p.enabled() && (p.Automatic || p.Location != nil):
		return fmt.Errorf("perpetual task has no interval and no cron expression: give Every or Cron")
	}
	if p.Cron != "" {
		sched, err := parseCron(p.Cron)
		if err != nil {
			return err
		}
		if sched.Next(time.Now()).IsZero() {
			return fmt.Errorf("cron expression %q names no time in the years ahead (such as February 30): check its day and month fields", p.Cron)
		}
	}
	return nil
}

// cronCache holds parsed cron expressions by their text.
var cronCache sync.Map // string → *cron.Schedule

func parseCron(expr string) (*cron.Schedule, error) {
	if s, ok := cronCache.Load(expr); ok {
		return s.(*cron.Schedule), nil
	}
	s, err := cron.Parse(expr)
	if err != nil {
		return nil, err
	}
	cronCache.Store(expr, s)
	return s, nil
}

// fieldPath finds the field named by path (dots between nested fields) in
// the argument type t, through pointers to structs.
func fieldPath(t reflect.Type, path string) ([]int, reflect.Type, error) {
	var idx []int
	ft := t
	for _, name := range strings.Split(path, ".") {
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct {
			return nil, nil, fmt.Errorf("field %q: the argument type %v is not a struct with that field: name an exported field of %v", path, t, t)
		}
		f, ok := ft.FieldByName(name)
		if !ok || !f.IsExported() {
			return nil, nil, fmt.Errorf("field %q: the argument type %v has no exported field %q: name one of %s", path, t, name, fieldNames(ft))
		}
		idx = append(idx, f.Index...)
		ft = f.Type
	}
	return idx, ft, nil
}

func fieldNames(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		if f.IsExported() {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "its fields (it has no exported one)"
	}
	return strings.Join(names, ", ")
}

// fieldOf returns the field at idx of args, or false if a nil pointer is on
// the way.
func fieldOf(args any, idx []int) (reflect.Value, bool) {
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	f, err := v.FieldByIndexErr(idx)
	if err != nil {
		return reflect.Value{}, false
	}
	return f, true
}
