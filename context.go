package localtasks

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// taskCtx is the context.Context an attempt runs with. It carries its own
// cancellation rather than wrapping a context.WithCancel: one allocation per
// attempt, a Done channel made only when someone asks for it, and an
// AfterFunc method, so that contexts derived from it with the context
// package need no goroutine of their own.
// It answers the package's questions (TaskID, Attempt, Logger) directly.
type taskCtx struct {
	id       string
	task     string
	attempt  int
	deadline time.Time // from the attempt's timeout; zero for none
	base     *slog.Logger
	logger   atomic.Pointer[slog.Logger] // made on first use
	report   func(done, total int64, message string)
	// perpetual says the run is of a perpetual task; next is what it asked
	// of its successor (guarded by mu).
	perpetual bool
	next      *nextRun

	done   atomic.Value // chan struct{}, made lazily; closedChan if cancelled first
	mu     sync.Mutex
	err    error // context.Canceled or context.DeadlineExceeded, once cancelled
	cause  error // why: ErrCancelled, ErrClosed, a *timeoutError, or nil once the attempt is over
	afters []*afterFunc
}

type afterFunc struct{ f func() }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

type taskCtxKey struct{}

var _ context.Context = (*taskCtx)(nil)

func (c *taskCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *taskCtx) Done() <-chan struct{} {
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

func (c *taskCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *taskCtx) Value(key any) any {
	if key == (taskCtxKey{}) {
		return c
	}
	return nil
}

// AfterFunc arranges for f to run in its own goroutine once c is cancelled,
// as context.AfterFunc does; context.WithCancel and friends use it.
func (c *taskCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.afters, a)
		if i < 0 {
			return false
		}
		c.afters = slices.Delete(c.afters, i, i+1)
		return true
	}
}

// cancel cancels c with err (what Err returns) for cause. Only the first
// call counts; it reports whether it was the first.
func (c *taskCtx) cancel(err, cause error) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.err, c.cause = err, cause
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		c.done.Store(closedChan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
	return true
}

// end cancels c now that its attempt has returned, as net/http does a
// request's ctx, and returns the timeout that cancelled it first, if one did.
func (c *taskCtx) end() *timeoutError {
	c.mu.Lock()
	t, _ := c.cause.(*timeoutError)
	c.mu.Unlock()
	c.cancel(context.Canceled, nil)
	return t
}

func fromContext(ctx context.Context) *taskCtx {
	c, _ := ctx.Value(taskCtxKey{}).(*taskCtx)
	return c
}

// Cause returns why ctx was cancelled, like context.Cause, and also for the
// ctx of a task attempt, whose cause context.Cause cannot see: ErrCancelled
// (Cancel), ErrClosed (Close), or an error matching ErrTimeout. For a ctx
// derived from the attempt's, it returns the attempt's cause once the
// attempt's ctx is done; otherwise what context.Cause returns.
func Cause(ctx context.Context) error {
	if c := fromContext(ctx); c != nil && ctx.Err() != nil {
		c.mu.Lock()
		cause, err := c.cause, c.err
		c.mu.Unlock()
		if err != nil {
			if cause != nil {
				return cause
			}
			return err
		}
	}
	return context.Cause(ctx)
}

// SetProgress reports how far the task of ctx has got: done of total units,
// and what it is doing. The latest report is on the run's TaskResult and in
// an EventProgress; on a process pool it travels to the parent. Outside a
// task it does nothing. It is cheap enough to call a few times a second, not
// once a loop iteration of a tight loop.
func SetProgress(ctx context.Context, done, total int64, message string) {
	if c := fromContext(ctx); c != nil && c.report != nil {
		c.report(done, total, message)
	}
}

// TaskID returns the ID of the task run that ctx belongs to, or "" outside
// a task (Django's context.task_result.id, django-tasks-local's
// current_result_id).
func TaskID(ctx context.Context) string {
	if c := fromContext(ctx); c != nil {
		return c.id
	}
	return ""
}

// TaskName returns the name of the task that ctx belongs to, or "".
func TaskName(ctx context.Context) string {
	if c := fromContext(ctx); c != nil {
		return c.task
	}
	return ""
}

// Attempt returns the number of the attempt that ctx belongs to, counting
// from 1, or 0 outside a task.
func Attempt(ctx context.Context) int {
	if c := fromContext(ctx); c != nil {
		return c.attempt
	}
	return 0
}

// Logger returns the backend's logger with the attributes task, task_id and
// attempt of the attempt that ctx belongs to; outside a task, slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	c := fromContext(ctx)
	if c == nil {
		return slog.Default()
	}
	if l := c.logger.Load(); l != nil {
		return l
	}
	l := c.base.With(slog.String("task", c.task), slog.String("task_id", c.id), slog.Int("attempt", c.attempt))
	c.logger.Store(l)
	return l
}
