package localtasks_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// RecordingBackend.Clear forgets the keys of the runs it forgets.
func TestRecordingClearFreesKeys(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	keyed := localtaskstest.Echo.Using(localtasks.WithKey("k"))
	first, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	dup, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition())
	b.Clear()
	again, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	require.NotEqual(t, first.ID(), again.ID())
}

// The tasks of the tests of RecordingBackend.Run and RunAll.
var (
	// recStep calls Then, if set, and returns Name.
	recStep = localtasks.Define("test.recording.step", func(ctx context.Context, a recStepArgs) (string, error) {
		if a.Then != nil {
			if err := a.Then(ctx); err != nil {
				return "", err
			}
		}
		return a.Name, nil
	})
	// recGate says it started, then waits for Release.
	recGate = localtasks.Define("test.recording.gate", func(ctx context.Context, a recGateArgs) (int, error) {
		close(a.Started)
		<-a.Release
		return localtasks.Attempt(ctx), nil
	})
	// recTick is perpetual, once a minute, and returns its argument.
	recTick = localtasks.Define("test.recording.tick", func(ctx context.Context, n int) (int, error) {
		return n, localtasks.SetNextArgs(ctx, n+1)
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute}))
)

type recStepArgs struct {
	Name string
	Then func(context.Context) error
}

type recGateArgs struct{ Started, Release chan struct{} }

// newRecorder builds a RecordingBackend on a FakeClock, whose middleware
// appends each attempt it wraps to the returned function's list.
func newRecorder(t *testing.T) (*localtasks.RecordingBackend, *localtaskstest.FakeClock, func() []localtasks.Execution) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []localtasks.Execution
	)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b, err := localtasks.NewRecording(localtasks.Config{Test: localtasks.TestConfig{Clock: clock},
		Middleware: []localtasks.Middleware{func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
			mu.Lock()
			seen = append(seen, ex)
			mu.Unlock()
			return next(ctx)
		}}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return b, clock, func() []localtasks.Execution {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func TestRecordingRun(t *testing.T) {
	t.Parallel()

	t.Run("RunsThroughMiddlewareWithTaskCtx", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, seen := newRecorder(t)
		h, err := localtaskstest.Info.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		require.Empty(t, seen(), "nothing runs before Run")

		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, localtaskstest.InfoResult{ID: h.ID(), Task: "localtaskstest.info", Attempt: 1}, res.Value)
		require.Equal(t, []localtasks.Execution{{ID: h.ID(), Task: "localtaskstest.info", Attempt: 1, Queue: localtasks.QueueDefault, Args: struct{}{}}}, seen())

		got, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, res.Value, got)
		rec := b.Recorded()
		require.Len(t, rec, 1)
		require.Equal(t, localtasks.StatusSuccessful, rec[0].Status)
		require.Equal(t, 1, rec[0].Attempts)
	})

	t.Run("RetriesBackToBack", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, seen := newRecorder(t)
		flaky := localtaskstest.Flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 3, Delay: time.Hour}))
		h, err := flaky.Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "not yet", FailAttempts: 2, Panic: true})
		require.NoError(t, err)
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, 3, res.Value)
		require.Len(t, res.Errors, 2, "the two attempts that panicked")
		require.Len(t, seen(), 3)
	})

	t.Run("Fails", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, _ := newRecorder(t)
		h, err := localtaskstest.Flaky.Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "broken", FailAttempts: 1})
		require.NoError(t, err)
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusFailed, res.Status)
		_, err = h.Wait(ctx)
		require.ErrorContains(t, err, "broken")
	})

	t.Run("ScheduledRunsWhateverItsTime", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, _ := newRecorder(t)
		h, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{N: 1})
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusScheduled, b.Recorded()[0].Status)
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, localtaskstest.EchoArgs{N: 1}, res.Value)
	})

	t.Run("DeadlinePassedCancels", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, clock, seen := newRecorder(t)
		h, err := localtaskstest.Echo.Using(localtasks.WithStartWithin(time.Minute)).Enqueue(ctx, b, localtaskstest.EchoArgs{})
		require.NoError(t, err)
		clock.Advance(2 * time.Minute)
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		require.Contains(t, res.CancelReason, "deadline passed")
		require.Empty(t, seen())
	})

	t.Run("StruckCancels", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, seen := newRecorder(t)
		h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 7})
		require.NoError(t, err)
		require.NoError(t, b.Strike(localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "N", Op: localtasks.OpEqual, Value: 7}))
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		require.Contains(t, res.CancelReason, "struck")
		require.Empty(t, seen())
	})

	t.Run("RecordsWhatTheRunEnqueues", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, _ := newRecorder(t)
		h, err := recStep.Enqueue(ctx, b, recStepArgs{Name: "parent", Then: func(ctx context.Context) error {
			_, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{Text: "child"})
			return err
		}})
		require.NoError(t, err)
		res, err := b.Run(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, "parent", res.Value)
		rec := b.Recorded()
		require.Len(t, rec, 2)
		require.Equal(t, localtasks.StatusReady, rec[1].Status, "a run's runs are recorded, not run")
	})

	t.Run("Refuses", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, err := localtasks.NewRecording(localtasks.Config{})
		require.NoError(t, err)
		h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{})
		require.NoError(t, err)

		done, cancel := context.WithCancel(ctx)
		cancel()
		_, err = b.Run(done, h.ID())
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, localtasks.StatusReady, b.Recorded()[0].Status, "nothing ran")

		_, err = b.Run(ctx, uuid.NewString())
		require.ErrorIs(t, err, localtasks.ErrResultNotFound)

		_, err = b.Run(ctx, h.ID())
		require.NoError(t, err)
		_, err = b.Run(ctx, h.ID())
		require.ErrorIs(t, err, localtasks.ErrFinished)

		require.NoError(t, b.Close(ctx))
		_, err = b.Run(ctx, h.ID())
		require.ErrorIs(t, err, localtasks.ErrClosed)
		_, err = b.RunAll(ctx)
		require.ErrorIs(t, err, localtasks.ErrClosed)
	})

	// Wait, and a second Run, wait for a run that a Run runs in another
	// goroutine; Wait on a run not started fails at once.
	t.Run("WaitForARunningRun", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, _, _ := newRecorder(t)
		args := recGateArgs{Started: make(chan struct{}), Release: make(chan struct{})}
		h, err := recGate.Enqueue(ctx, b, args)
		require.NoError(t, err)
		_, err = b.Wait(ctx, h.ID())
		require.ErrorIs(t, err, errors.ErrUnsupported)

		results := make(chan localtasks.TaskResult, 3)
		errs := make(chan error, 3)
		run := func(f func(context.Context, string) (localtasks.TaskResult, error)) {
			res, err := f(ctx, h.ID())
			results <- res
			errs <- err
		}
		waiting := localtasks.RecordingWaitingForTest(b)
		go run(b.Run)
		<-args.Started
		go run(b.Run)
		go run(b.Wait)
		require.Equal(t, h.ID(), <-waiting)
		require.Equal(t, h.ID(), <-waiting)
		close(args.Release)
		for range 3 {
			require.NoError(t, <-errs)
			res := <-results
			require.Equal(t, localtasks.StatusSuccessful, res.Status)
			require.Equal(t, 1, res.Attempts, "it ran once")
		}
	})
}

func TestRecordingRunAll(t *testing.T) {
	t.Parallel()

	t.Run("RunsTheDueRunsInOrder", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, clock, _ := newRecorder(t)
		enqueue := func(name string, opts ...localtasks.Option) {
			t.Helper()
			_, err := recStep.Using(opts...).Enqueue(ctx, b, recStepArgs{Name: name, Then: func(ctx context.Context) error {
				_, err := recStep.Enqueue(ctx, b, recStepArgs{Name: name + "'s child"})
				return err
			}})
			require.NoError(t, err)
		}
		enqueue("first")
		enqueue("later", localtasks.WithDelay(time.Hour))
		enqueue("second")

		names := func(rs []localtasks.TaskResult) []any {
			var out []any
			for _, r := range rs {
				require.Equal(t, localtasks.StatusSuccessful, r.Status)
				out = append(out, r.Value)
			}
			return out
		}
		rs, err := b.RunAll(ctx)
		require.NoError(t, err)
		require.Equal(t, []any{"first", "second", "first's child", "second's child"}, names(rs))
		require.Equal(t, localtasks.StatusScheduled, b.Recorded()[1].Status, "not due: it waits")

		rs, err = b.RunAll(ctx)
		require.NoError(t, err)
		require.Empty(t, rs, "nothing is due")

		clock.Advance(time.Hour)
		rs, err = b.RunAll(ctx)
		require.NoError(t, err)
		require.Equal(t, []any{"later", "later's child"}, names(rs))
	})

	t.Run("PerpetualWaitsForItsTime", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, clock, _ := newRecorder(t)
		_, err := recTick.Enqueue(ctx, b, 1)
		require.NoError(t, err)
		for want := 1; want <= 3; want++ {
			rs, err := b.RunAll(ctx)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			require.Equal(t, want, rs[0].Value)
			rec := b.Recorded()
			require.Len(t, rec, want+1, "the run that follows is recorded")
			next := rec[want]
			require.Equal(t, localtasks.StatusScheduled, next.Status)
			require.Equal(t, want+1, next.Args)
			clock.Advance(time.Minute)
		}
	})

	t.Run("StopsOnceCtxIsDone", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(testCtx(t))
		b, _, _ := newRecorder(t)
		_, err := recStep.Enqueue(ctx, b, recStepArgs{Name: "cancels", Then: func(context.Context) error { cancel(); return nil }})
		require.NoError(t, err)
		_, err = recStep.Enqueue(ctx, b, recStepArgs{Name: "never"})
		require.NoError(t, err)
		rs, err := b.RunAll(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, rs, 1)
		require.Equal(t, localtasks.StatusReady, b.Recorded()[1].Status)
	})
}

// Clear keeps the runs that Run is running, with their keys, and forgets
// the others.
func TestRecordingClearKeepsRunningRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, _, _ := newRecorder(t)
	keyed := recGate.Using(localtasks.WithKey("k"))
	args := recGateArgs{Started: make(chan struct{}), Release: make(chan struct{})}
	h, err := keyed.Enqueue(ctx, b, args)
	require.NoError(t, err)
	_, err = localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)

	ran := make(chan localtasks.TaskResult, 1)
	go func() {
		res, err := b.Run(ctx, h.ID())
		assert.NoError(t, err)
		ran <- res
	}()
	<-args.Started
	b.Clear()
	rec := b.Recorded()
	require.Len(t, rec, 1)
	require.Equal(t, h.ID(), rec[0].ID)
	dup, err := keyed.Enqueue(ctx, b, recGateArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition(), "the running run keeps its key")

	close(args.Release)
	require.Equal(t, localtasks.StatusSuccessful, (<-ran).Status)
	res, err := b.GetResult(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	again, err := keyed.Enqueue(ctx, b, recGateArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	b.Clear()
	require.Empty(t, b.Recorded())
}
