package localtasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

type callKey struct{}

var (
	// callPerpetual asks for its next run, which Call drops.
	callPerpetual = localtasks.Define("test.call.perpetual", func(ctx context.Context, n int) (int, error) {
		if err := localtasks.SetNextArgs(ctx, n+1); err != nil {
			return 0, err
		}
		if err := localtasks.SetNextRun(ctx, time.Now().Add(time.Hour)); err != nil {
			return 0, err
		}
		return n, localtasks.StopPerpetual(ctx)
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute}))
	// callCtx returns what its ctx carries: the caller's value, and the
	// error once it is done.
	callCtx = localtasks.Define("test.call.ctx", func(ctx context.Context, _ struct{}) (string, error) {
		v, _ := ctx.Value(callKey{}).(string)
		localtasks.SetProgress(ctx, 1, 2, "dropped")
		localtasks.Logger(ctx).Debug("called")
		return v, ctx.Err()
	})
)

func TestTaskCall(t *testing.T) {
	t.Parallel()

	t.Run("TaskCtx", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		first, err := localtaskstest.Info.Call(ctx, struct{}{})
		require.NoError(t, err)
		require.Equal(t, "localtaskstest.info", first.Task)
		require.Equal(t, 1, first.Attempt)
		require.False(t, first.HasDeadline, "no timeout: the caller's ctx has no deadline")
		_, err = uuid.Parse(first.ID)
		require.NoError(t, err, "the ID is a UUID")
		second, err := localtaskstest.Info.Call(ctx, struct{}{})
		require.NoError(t, err)
		require.NotEqual(t, first.ID, second.ID, "each call its own ID")
		require.Empty(t, localtasks.TaskID(ctx), "the caller's ctx is not a task's")
	})

	t.Run("CallersCtx", func(t *testing.T) {
		t.Parallel()
		ctx := context.WithValue(testCtx(t), callKey{}, "mine")
		v, err := callCtx.Call(ctx, struct{}{})
		require.NoError(t, err)
		require.Equal(t, "mine", v)

		done, cancel := context.WithCancelCause(ctx)
		cause := errors.New("the caller gave up")
		cancel(cause)
		_, err = callCtx.Call(done, struct{}{})
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("ResultsAndErrors", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		v, err := localtaskstest.Echo.Call(ctx, localtaskstest.EchoArgs{N: 2, Text: "hi"})
		require.NoError(t, err)
		require.Equal(t, localtaskstest.EchoArgs{N: 2, Text: "hi"}, v)

		_, err = localtaskstest.Flaky.Call(ctx, localtaskstest.FlakyArgs{Message: "once only", FailAttempts: 1})
		require.EqualError(t, err, "once only", "one attempt: no retries")
		require.PanicsWithValue(t, "boom", func() {
			_, _ = localtaskstest.Flaky.Call(ctx, localtaskstest.FlakyArgs{Message: "boom", FailAttempts: 1, Panic: true})
		})
	})

	t.Run("PerpetualAsksForNothing", func(t *testing.T) {
		t.Parallel()
		n, err := callPerpetual.Call(testCtx(t), 4)
		require.NoError(t, err)
		require.Equal(t, 4, n)
	})
}
