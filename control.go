package localtasks

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// What a task says of its own run, from inside: fail for good, run again
// later, take longer. Each works on the thread pool, the process pool (from
// the worker process) and the Immediate backend alike.

// Permanent marks err as final: the run fails with err now, whatever
// attempts its retry policy has left (River's JobCancel, asynq's
// SkipRetry). errors.Is and errors.As see through it, and the run's
// TaskError describes err itself. Permanent(nil) is nil.
//
//	if errors.Is(err, ErrNoSuchUser) {
//		return Report{}, localtasks.Permanent(err) // retrying will not help
//	}
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &failure.Permanent{Err: err}
}

// Snooze, returned by a task, runs the task again after d, with the same
// argument, without counting a failed attempt (River's JobSnooze): the run
// goes SCHEDULED, its retry policy's MaxAttempts is not spent, and no
// TaskError is recorded. The next attempt's number, Attempt(ctx), still
// goes up by one. A d of zero or less runs it again as soon as a worker is
// free. On the Immediate backend, which has no clock to wait on, the run
// is attempted again at once.
func Snooze(d time.Duration) error { return &failure.Snooze{For: max(d, 0)} }

// SnoozeUntil is Snooze until t.
func SnoozeUntil(t time.Time) error {
	if t.IsZero() {
		return &failure.Snooze{}
	}
	return &failure.Snooze{At: t}
}

// ExtendTimeout moves the timeout of the current attempt of the task of ctx
// by d (Docket's Timeout.extend), for a task that knows it needs longer:
// a task that reports progress can extend its timeout by a step each time
// it completes one. ctx's Deadline moves with it; contexts derived from ctx
// earlier keep the deadline they copied. It works from a process pool's
// worker too, where the parent, which enforces the timeout, hears of it at
// once.
//
// An attempt without a timeout has none to extend: ExtendTimeout does
// nothing and returns nil. It returns an error matching ErrTimeout if the
// timeout expired already, an error if ctx is not a task's or d is not
// positive, and one matching errors.ErrUnsupported on a backend that cannot
// (Capabilities.ExtendTimeout is false; every backend of this module can).
func ExtendTimeout(ctx context.Context, d time.Duration) error {
	c := taskctx.From(ctx)
	switch {
	case c == nil:
		return fmt.Errorf("localtasks: ExtendTimeout outside a task: call it with the ctx the task was given")
	case d <= 0:
		return fmt.Errorf("localtasks: ExtendTimeout by %v: give a positive duration", d)
	}
	return c.ExtendTimeout(d)
}

// RegisterErrors makes errors.Is match each of errs on the error of a run
// that failed in a process pool's worker, as it does on the thread pool,
// where the error value never leaves the process. Register them where they
// are declared, at package level, so that the worker processes register
// them too:
//
//	var ErrNoSuchUser = errors.New("no such user")
//
//	func init() { localtasks.RegisterErrors(ErrNoSuchUser) }
//
// A sentinel is known across processes by its type and text, so two
// registered sentinels must not share both: RegisterErrors panics if they
// do, or if one is nil, as it is a mistake in the program.
func RegisterErrors(errs ...error) {
	for _, err := range errs {
		if e := failure.RegisterSentinel(err); e != nil {
			panic("localtasks: RegisterErrors: " + e.Error())
		}
	}
}

// RegisterErrorType makes errors.As find an error of type E on the error of
// a run that failed in a process pool's worker, as it does on the thread
// pool: the worker sends the value errors.As found in the task's error,
// gob-encoded, and the parent decodes it. E is a named error type or a
// pointer to one; its exported fields travel (a type gob cannot encode
// arrives as its zero value, which errors.As still finds). Register it at
// package level, as RegisterErrors says. It panics if E is an interface
// or an unnamed type.
func RegisterErrorType[E error]() {
	if err := failure.RegisterType(reflect.TypeFor[E]()); err != nil {
		panic("localtasks: RegisterErrorType: " + err.Error())
	}
}
