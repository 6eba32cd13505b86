package localtasks_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// failingOnce fails its first attempt.
var failingOnce = localtasks.Define("test.failingOnce-once", func(ctx context.Context, _ struct{}) (int, error) {
	if localtasks.Attempt(ctx) == 1 {
		return 0, errors.New("first attempt fails")
	}
	return 2, nil
}, localtasks.WithRetry(localtasks.FixedRetry(2, 0)))

func TestCountersAndDrain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	hd, err := failingOnce.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.NoError(t, b.Drain(ctx))
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	require.Equal(t, localtasks.Counters{Enqueued: 1, Started: 2, Succeeded: 1, Retried: 1}, b.Counters())
	require.NoError(t, b.Drain(ctx), "nothing to wait for")

	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer rec.Close(ctx)
	require.ErrorIs(t, rec.Drain(ctx), errors.ErrUnsupported, "a recording backend never drains")

	blocked := newPool(t, localtasks.ThreadPoolConfig{})
	hb, err := localtaskstest.Block.Enqueue(ctx, blocked, struct{}{})
	require.NoError(t, err)
	short, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, blocked.Drain(short), context.Canceled, "Drain gives up when its ctx ends")
	require.NoError(t, hb.Cancel(ctx)) // else Close would wait for it
	require.NoError(t, blocked.Drain(ctx))
}

// The thread pool's snapshot lists its goroutines, and what each has done.
func TestThreadPoolSnapshotWorkers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3})
	for range 10 {
		_, err := failingOnce.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	snap := b.Snapshot()
	require.Len(t, snap.Workers, 3)
	var done int
	for _, w := range snap.Workers {
		require.Zero(t, w.PID)
		require.Empty(t, w.Running)
		done += w.TasksDone
	}
	require.Equal(t, 20, done, "ten runs of two attempts")
	require.Len(t, snap.Finished, 10)
}
