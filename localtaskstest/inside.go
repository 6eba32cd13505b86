package localtaskstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// ErrControl is the sentinel Controlled fails with; registered, so that
// errors.Is finds it on a run that failed in a worker process.
var ErrControl = errors.New("localtaskstest: controlled failure")

// CodeError is the error type Controlled fails with; registered, so that
// errors.As finds it, with its Code, on a run that failed in a worker.
type CodeError struct{ Code int }

func (e *CodeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

func init() {
	localtasks.RegisterErrors(ErrControl)
	localtasks.RegisterErrorType[*CodeError]()
}

// ScriptArgs says what each attempt of Controlled does: Steps[n-1] for
// attempt n, and success (returning n) once the steps run out.
type ScriptArgs struct {
	// Each step is "fail" (a plain error), "sentinel" (wraps ErrControl),
	// "typed" (wraps a *CodeError of Code 7), "permanent" (Permanent
	// around a wrapped ErrControl), "snooze" (Snooze(SnoozeFor)) or
	// "snooze-until" (SnoozeUntil(SnoozeAt)).
	Steps     []string
	SnoozeFor time.Duration
	SnoozeAt  time.Time
}

// The tasks of the cases of control from inside a task.
var (
	// Controlled does what its argument's steps say.
	Controlled = localtasks.Define("localtaskstest.controlled", control)
	// Decided is Controlled with a retry policy whose Decide stops at
	// ErrControl and waits an hour after a *CodeError: a Decide given on
	// Define reaches every backend's workers, the River adapter's too.
	Decided = localtasks.Define("localtaskstest.decided", control, localtasks.WithRetry(localtasks.RetryPolicy{
		MaxAttempts: 10, Delay: time.Second, Decide: decideByError}))
	// Extender extends its attempt's timeout by its argument, reports a
	// progress step once it has, then waits for its ctx to end.
	Extender = localtasks.Define("localtaskstest.extender", func(ctx context.Context, by time.Duration) (struct{}, error) {
		if err := localtasks.ExtendTimeout(ctx, by); err != nil {
			return struct{}{}, err
		}
		localtasks.SetProgress(ctx, 1, 1, "extended")
		<-ctx.Done()
		return struct{}{}, ctx.Err()
	})
)

// Logging writes its argument through Logger(ctx), with the attempt's
// number and a group as attributes, and fails its first attempt if the
// argument starts with "fail".
var Logging = localtasks.Define("localtaskstest.logging", func(ctx context.Context, msg string) (int, error) {
	n := localtasks.Attempt(ctx)
	localtasks.Logger(ctx).Info(msg, "n", n, slog.Group("g", "k", "v"))
	localtasks.Logger(ctx).Debug("below the default RunLogs.Level")
	if n == 1 && strings.HasPrefix(msg, "fail") {
		return 0, errors.New("first attempt fails")
	}
	return n, nil
})

// decideByError is Decided's Decide: no retry after ErrControl, an hour
// after a *CodeError, and a minute more than the policy's wait after any
// other error.
func decideByError(attempt int, err error, wait time.Duration) (bool, time.Duration) {
	if errors.Is(err, ErrControl) {
		return false, 0
	}
	if _, ok := errors.AsType[*CodeError](err); ok {
		return true, time.Hour
	}
	return true, wait + time.Minute
}

// control is Controlled's function.
func control(ctx context.Context, a ScriptArgs) (int, error) {
	n := localtasks.Attempt(ctx)
	if n > len(a.Steps) {
		return n, nil
	}
	switch s := a.Steps[n-1]; s {
	case "fail":
		return 0, errors.New("transient")
	case "sentinel":
		return 0, fmt.Errorf("attempt %d: %w", n, ErrControl)
	case "typed":
		return 0, fmt.Errorf("attempt %d: %w", n, &CodeError{Code: 7})
	case "permanent":
		return 0, localtasks.Permanent(fmt.Errorf("attempt %d: %w", n, ErrControl))
	case "snooze":
		return 0, localtasks.Snooze(a.SnoozeFor)
	case "snooze-until":
		return 0, localtasks.SnoozeUntil(a.SnoozeAt)
	default:
		return 0, fmt.Errorf("unknown step %q", s)
	}
}

// insideCases are the cases of control from inside a task: Permanent,
// retry policies that decide by error, retrying forever, Snooze,
// ExtendTimeout, and errors that keep their identity across processes.
func (h *harness) insideCases() []testCase {
	if !h.runs {
		return nil
	}
	cs := []testCase{{"ErrorIdentity", testErrorIdentity}, {"SnoozeNow", testSnoozeNow}, {"RunLogs", testRunLogs}}
	if h.caps.Retry {
		cs = append(cs, testCase{"Permanent", testPermanent}, testCase{"RetryDecide", testRetryDecide},
			testCase{"RetryForever", testRetryForever})
	}
	if h.caps.Defer {
		cs = append(cs, testCase{"SnoozeLater", testSnoozeLater})
		if h.caps.Retry {
			cs = append(cs, testCase{"RetryDecideDelay", testRetryDecideDelay})
		}
	}
	if h.caps.Timeout && h.caps.ExtendTimeout && h.events {
		cs = append(cs, testCase{"ExtendTimeout", testExtendTimeout})
	}
	return cs
}

// testRunLogs: what a run writes through Logger(ctx) is on its result, per
// attempt, at slog.LevelInfo and above (the default Config.RunLogs).
func testRunLogs(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	type rec struct {
		Attempt         int
		Level           slog.Level
		Stream, Message string
		Attrs           []localtasks.LogAttr
	}
	read := func(hd localtasks.Handle[int]) []rec {
		_, err := hd.Wait(ctx)
		require.NoError(t, err)
		res, err := hd.Result(ctx)
		require.NoError(t, err)
		require.Zero(t, res.LogsDropped)
		var out []rec
		for _, r := range res.Logs {
			require.False(t, r.Time.IsZero(), "a record has its time")
			out = append(out, rec{r.Attempt, r.Level, r.Stream, r.Message, r.Attrs})
		}
		return out
	}
	attrs := func(n string) []localtasks.LogAttr {
		return []localtasks.LogAttr{{Key: "n", Value: n}, {Key: "g.k", Value: "v"}}
	}
	hd, err := Logging.Enqueue(ctx, b, "hello")
	require.NoError(t, err)
	require.Equal(t, []rec{{1, slog.LevelInfo, "log", "hello", attrs("1")}}, read(hd))
	if !h.caps.Retry {
		return
	}
	hd, err = Logging.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).Enqueue(ctx, b, "fail once")
	require.NoError(t, err)
	require.Equal(t, []rec{{1, slog.LevelInfo, "log", "fail once", attrs("1")}, {2, slog.LevelInfo, "log", "fail once", attrs("2")}}, read(hd),
		"each attempt's records, numbered")
}

func testErrorIdentity(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Controlled.Enqueue(ctx, b, ScriptArgs{Steps: []string{"sentinel"}})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, ErrControl, "a registered sentinel matches, wherever the task ran")
	require.EqualError(t, err, "attempt 1: "+ErrControl.Error())

	hd, err = Controlled.Enqueue(ctx, b, ScriptArgs{Steps: []string{"typed"}})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	ce, ok := errors.AsType[*CodeError](err)
	require.True(t, ok, "a registered error type matches, wherever the task ran: %v", err)
	require.Equal(t, 7, ce.Code, "with its fields")
	require.NotErrorIs(t, err, ErrControl)
}

func testPermanent(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Controlled.Using(localtasks.WithRetry(localtasks.FixedRetry(5, 0))).
		Enqueue(ctx, b, ScriptArgs{Steps: []string{"fail", "permanent", "fail"}})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, ErrControl)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, 2, res.Attempts, "no attempt after the permanent error, though the policy allows five")
	require.Len(t, res.Errors, 2)
	require.Equal(t, "attempt 2: "+ErrControl.Error(), res.Errors[1].Message)
	require.Equal(t, "*fmt.wrapError", res.Errors[1].Type, "the error Permanent wraps is described, not the wrapper")
}

// stopOnControl retries any error but ErrControl, at once.
func stopOnControl(attempt int, err error, wait time.Duration) (bool, time.Duration) {
	return !errors.Is(err, ErrControl), 0
}

func testRetryDecide(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Decided.Enqueue(ctx, b, ScriptArgs{Steps: []string{"sentinel", "fail"}})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, ErrControl)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, 1, res.Attempts, "Decide said no to the sentinel error, which it saw as such")

	bounded := localtasks.RetryPolicy{MaxAttempts: 2, Decide: decideByError}
	hd, err = Decided.Using(localtasks.WithRetry(bounded)).Enqueue(ctx, b, ScriptArgs{Steps: []string{"snooze", "fail", "fail", "fail"}})
	if errors.Is(err, errors.ErrUnsupported) {
		return // a backend whose workers have only the definition's Decide (River) says so
	}
	require.NoError(t, err)
	if h.caps.Defer {
		return // the retry waits a minute: RetryDecideDelay covers it
	}
	_, err = hd.Wait(ctx)
	require.Error(t, err)
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, res.Attempts, "Decide does not go past MaxAttempts, which the snooze did not spend")
}

func testRetryDecideDelay(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	hd, err := Decided.Enqueue(ctx, b, ScriptArgs{Steps: []string{"typed", "fail"}})
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the retry's timer")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Hour), res.RunAfter, "the wait Decide chose for this error")
	clock.Advance(time.Hour)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the second retry's timer")
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Hour+time.Second+time.Minute), res.RunAfter, "the policy's wait, which Decide was given, and its minute")
	clock.Advance(time.Second + time.Minute)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v)
}

func testRetryForever(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	steps := make([]string, 40)
	if h.traits.KeepsResults {
		steps = steps[:5] // a backend with its own store keeps its own history: no cap to check
	}
	for i := range steps {
		steps[i] = "fail"
	}
	hd, err := Controlled.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: localtasks.RetryForever})).
		Enqueue(ctx, b, ScriptArgs{Steps: steps})
	require.NoError(t, err)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, len(steps)+1, v, "retried until it succeeded")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	if !h.traits.KeepsResults {
		require.Len(t, res.Errors, 32, "a run that retries forever keeps its last 32 errors")
		require.Equal(t, 40, res.Errors[31].Attempt)
	}
}

func testSnoozeNow(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Controlled.Enqueue(ctx, b, ScriptArgs{Steps: []string{"snooze", "snooze"}})
	require.NoError(t, err)
	v, err := hd.Wait(ctx)
	require.NoError(t, err, "snoozes spend no attempt: a run with one attempt still gets its third")
	require.Equal(t, 3, v)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Errors, "a snooze is no failure")
}

func testSnoozeLater(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	hd, err := Controlled.Enqueue(ctx, b, ScriptArgs{Steps: []string{"snooze", "snooze-until"},
		SnoozeFor: time.Minute, SnoozeAt: Epoch.Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the snooze's timer")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Minute), res.RunAfter)
	clock.Advance(time.Minute)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the second snooze's timer")
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Hour), res.RunAfter, "SnoozeUntil's time")
	clock.Advance(59 * time.Minute)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Errors)
}

func testExtendTimeout(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	c := enqueueAsync(ctx, Extender.Using(localtasks.WithTimeout(5*time.Second)), b, time.Minute)
	for extended := false; !extended; {
		select {
		case ev := <-sub.C():
			extended = ev.Kind == localtasks.EventProgress && ev.Result.Progress.Message == "extended"
		case <-ctx.Done():
			t.Fatal("the task did not report its extension")
		}
	}
	require.Equal(t, 1, clock.Pending(), "one timeout timer, moved")
	clock.Advance(5 * time.Second)
	clock.Advance(time.Minute)
	hd := <-c
	_, err := hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrTimeout)
	require.Contains(t, err.Error(), "timed out after 1m5s", "the timeout ran its extended length, not its first 5s")
}
