// Package taskctx is the context.Context a task attempt runs with, in the
// parent process and in a process-pool worker alike, and what cancels it:
// one constructor (New), one numbering of attempts (from 1), one set of
// causes.
package taskctx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The causes of an attempt's cancellation, exported by localtasks under the
// same names.
var (
	ErrCancelled = errors.New("task cancelled")
	ErrClosed    = errors.New("backend closed")
	ErrTimeout   = errors.New("task timed out")
)

// TimeoutError is the error of an attempt that ran past its timeout. It
// matches ErrTimeout and context.DeadlineExceeded, and unwraps to what the
// task itself returned, if anything.
type TimeoutError struct {
	After    time.Duration
	Returned error
}

func (e *TimeoutError) Error() string {
	if e.Returned == nil {
		return fmt.Sprintf("timed out after %v", e.After)
	}
	return fmt.Sprintf("timed out after %v: %v", e.After, e.Returned)
}

// Is makes e match ErrTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func (e *TimeoutError) Unwrap() error { return e.Returned }

// Info describes an attempt, for New.
type Info struct {
	ID     string // the run's ID
	Task   string // its task's name
	Number int    // the attempt's number, from 1
	// Deadline is when the attempt's timeout ends; zero for none.
	Deadline time.Time
	// Logger is the backend's logger; Logger(ctx) adds the attempt's
	// attributes to it. Nil means slog.Default().
	Logger *slog.Logger
	// Hooks are the backend's, for what the attempt reports; nil drops
	// the reports.
	Hooks *Hooks
	// Ref is the backend's own reference to the run, for Report.
	Ref any
	// Carrier is what the backend's Propagator took from the run's
	// Enqueue, for the attempt's middleware; nil for none.
	Carrier map[string]string
	// Perpetual says the run is of a perpetual task, which may ask for
	// its next run.
	Perpetual bool

	// ended is Ctx's (see there), kept here, in what would be the padding
	// after Perpetual, so that a Ctx stays in the allocator's 176-byte
	// size class: one is made for every attempt.
	ended ending
}

// Hooks receive what an attempt reports from inside. A backend makes one
// set for all its attempts; each hook is told the attempt's Ctx.
type Hooks struct {
	// Report receives the attempt's progress reports; nil drops them.
	Report func(c *Ctx, done, total int64, message string)
	// Metadata receives the metadata the attempt sets; nil drops it.
	Metadata func(c *Ctx, key, value string)
	// Extend moves the attempt's timeout by d, for ExtendTimeout; nil
	// means the backend cannot.
	Extend func(c *Ctx, d time.Duration) error
	// Capture, if set, returns a handler that the attempt's Logger tees
	// its records to, after the attributes it adds (a run's own logs); nil
	// for none. It is called once an attempt, at its first Logger.
	Capture func(c *Ctx) slog.Handler
	// Unchained, if not empty, says why a run of a perpetual task has no
	// successor to shape (a River periodic job's run): StopPerpetual,
	// SetNextRun and SetNextArgs fail with it.
	Unchained string
}

// Ctx is the context.Context an attempt runs with. It carries its own
// cancellation rather than wrapping a context.WithCancel: one allocation per
// attempt, a Done channel made only when someone asks for it, and an
// AfterFunc method, so that contexts derived from it with the context
// package need no goroutine of their own.
type Ctx struct {
	Info
	logger atomic.Pointer[slog.Logger] // made on first use

	done   atomic.Value // chan struct{}, made lazily; closedChan if cancelled first
	mu     sync.Mutex   // guards Info.ended, why Err says the ctx ended, and the fields below
	cause  error        // why: ErrCancelled, ErrClosed, a *TimeoutError, or nil once the attempt is over
	afters *afterFunc   // the AfterFunc functions to run, the latest first
	next   *Next        // what a perpetual run asked of its successor
}

// ending is what Err returns, in a byte: a Ctx is made for every attempt,
// and the garbage collector pays for each byte of it.
type ending uint8

const (
	live ending = iota
	endCanceled
	endDeadline
)

func (e ending) err() error {
	switch e {
	case endCanceled:
		return context.Canceled
	case endDeadline:
		return context.DeadlineExceeded
	}
	return nil
}

// New returns the ctx of the attempt info describes.
func New(info Info) *Ctx {
	c := new(Ctx)
	c.Init(info)
	return c
}

// Init makes c, which must be new, the ctx of the attempt info describes;
// for a caller that allocates c before it knows the attempt.
func (c *Ctx) Init(info Info) {
	if info.Logger == nil {
		info.Logger = slog.Default()
	}
	info.ended = live
	c.Info = info
}

// afterFunc is a function AfterFunc registered, in a list.
type afterFunc struct {
	f    func()
	next *afterFunc
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

type key struct{}

var _ context.Context = (*Ctx)(nil)

func (c *Ctx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Info.Deadline, !c.Info.Deadline.IsZero()
}

// SetDeadline moves the deadline Deadline reports to t, for an extended
// timeout: what enforces the timeout is the backend's, not c's.
func (c *Ctx) SetDeadline(t time.Time) {
	c.mu.Lock()
	c.Info.Deadline = t
	c.mu.Unlock()
}

// ExtendTimeout asks the backend to move the attempt's timeout by d.
func (c *Ctx) ExtendTimeout(d time.Duration) error {
	if c.Hooks == nil || c.Hooks.Extend == nil {
		return fmt.Errorf("extending a timeout: %w: this backend cannot extend an attempt's timeout", errors.ErrUnsupported)
	}
	return c.Hooks.Extend(c, d)
}

func (c *Ctx) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return d.(chan struct{})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.done.Load(); d != nil {
		return d.(chan struct{})
	}
	d := make(chan struct{})
	c.done.Store(d)
	return d
}

func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended.err()
}

func (c *Ctx) Value(k any) any {
	if k == (key{}) {
		return c
	}
	return nil
}

// AfterFunc arranges for f to run in its own goroutine once c is cancelled,
// as context.AfterFunc does; context.WithCancel and friends use it.
func (c *Ctx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.ended != live {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f, next: c.afters}
	c.afters = a
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p := &c.afters; *p != nil; p = &(*p).next {
			if *p == a {
				*p = a.next
				return true
			}
		}
		return false
	}
}

// Cancel cancels c with err (what Err returns: context.Canceled or
// context.DeadlineExceeded) for cause. Only the first call counts; it
// reports whether it was the first.
func (c *Ctx) Cancel(err, cause error) bool {
	c.mu.Lock()
	return c.cancelLocked(err, cause)
}

// cancelLocked is Cancel, called with c.mu held, which it releases.
func (c *Ctx) cancelLocked(err, cause error) bool {
	if c.ended != live {
		c.mu.Unlock()
		return false
	}
	c.ended, c.cause = endCanceled, cause
	if err == context.DeadlineExceeded {
		c.ended = endDeadline
	} else if err != context.Canceled {
		panic(fmt.Sprintf("taskctx: Cancel with %v: a ctx ends with context.Canceled or context.DeadlineExceeded", err))
	}
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		c.done.Store(closedChan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for a := afters; a != nil; a = a.next {
		go a.f()
	}
	return true
}

// End cancels c now that its attempt has returned, as net/http does a
// request's ctx, and returns the timeout that cancelled it first, if one did.
func (c *Ctx) End() *TimeoutError {
	c.mu.Lock()
	t, _ := c.cause.(*TimeoutError)
	c.cancelLocked(context.Canceled, nil)
	return t
}

// Cause returns why c was cancelled, or nil if it was not, or was cancelled
// only because its attempt ended.
func (c *Ctx) Cause() (err, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended.err(), c.cause
}

// From returns the attempt's Ctx that ctx is or derives from, or nil.
func From(ctx context.Context) *Ctx {
	c, _ := ctx.Value(key{}).(*Ctx)
	return c
}

// Attach returns a ctx derived from parent that carries c for From, while
// its deadline, cancellation and other values are parent's: for backends
// outside the package, whose attempts the parent's ctx bounds.
func Attach(parent context.Context, c *Ctx) context.Context {
	return attached{Context: parent, c: c}
}

type attached struct {
	context.Context
	c *Ctx
}

func (a attached) Value(k any) any {
	if k == (key{}) {
		return a.c
	}
	return a.Context.Value(k)
}

// Next is what a perpetual run asks of its successor from inside:
// localtasks' StopPerpetual, SetNextRun and SetNextArgs.
type Next struct {
	Stop    bool
	At      time.Time
	Args    any
	HasArgs bool
	Payload []byte // the args gob-encoded, when they came from a worker process
}

// Merge takes what o set over n.
func (n *Next) Merge(o *Next) {
	n.Stop = n.Stop || o.Stop
	if !o.At.IsZero() {
		n.At = o.At
	}
	if o.HasArgs {
		n.Args, n.HasArgs, n.Payload = o.Args, true, o.Payload
	}
}

// SetNext applies set to what the run of c asks of its successor.
func (c *Ctx) SetNext(set func(*Next)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = new(Next)
	}
	set(c.next)
}

// TakeNext returns what the run of c asked of its successor, or nil.
func (c *Ctx) TakeNext() *Next {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// Logger returns the attempt's logger: Info.Logger with the attributes
// task, task_id and attempt.
func (c *Ctx) Logger() *slog.Logger {
	if l := c.logger.Load(); l != nil {
		return l
	}
	l := c.Info.Logger.With(slog.String("task", c.Task), slog.String("task_id", c.ID), slog.Int("attempt", c.Number))
	if c.Hooks != nil && c.Hooks.Capture != nil {
		if h := c.Hooks.Capture(c); h != nil {
			l = slog.New(tee{l.Handler(), h})
		}
	}
	if !c.logger.CompareAndSwap(nil, l) {
		return c.logger.Load()
	}
	return l
}

// tee passes each record to two handlers: the backend's, and the one that
// keeps it on the run.
type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.b.Enabled(ctx, r.Level) {
		err = t.b.Handle(ctx, r) // keeps no reference to r's attributes
	}
	if t.a.Enabled(ctx, r.Level) {
		err = errors.Join(t.a.Handle(ctx, r), err)
	}
	return err
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler { return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)} }
func (t tee) WithGroup(name string) slog.Handler {
	return tee{t.a.WithGroup(name), t.b.WithGroup(name)}
}

// SetMetadata passes a metadata pair to Info.Metadata, if it is set.
func (c *Ctx) SetMetadata(key, value string) {
	if c.Hooks != nil && c.Hooks.Metadata != nil {
		c.Hooks.Metadata(c, key, value)
	}
}

// Progress passes a progress report to Info.Report, if it is set.
func (c *Ctx) Progress(done, total int64, message string) {
	if c.Hooks != nil && c.Hooks.Report != nil {
		c.Hooks.Report(c, done, total, message)
	}
}
