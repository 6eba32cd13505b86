//go:build unix

package localtasks_test

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A perpetual task's requests for its next run travel from the worker
// process to the parent.
func TestProcessPoolPerpetualNextRun(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start := time.Date(2030, 3, 1, 2, 0, 0, 0, time.UTC)
	clock := localtaskstest.NewFakeClock(start)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	sub := b.Subscribe(64)
	defer sub.Close()
	first, err := nightly.Enqueue(ctx, b, nightlyArgs{Now: start})
	require.NoError(t, err)
	_, err = first.Wait(ctx)
	require.NoError(t, err)
	next := nextEnqueued(t, sub, first.ID())
	want := start.Add(24 * time.Hour)
	require.True(t, want.Equal(next.RunAfter), "SetNextRun in the worker: %v, want %v", next.RunAfter, want)
	args, ok := next.Args.(nightlyArgs)
	require.True(t, ok, "the next argument is a %T", next.Args)
	require.True(t, want.Equal(args.Now), "SetNextArgs in the worker")

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(24 * time.Hour)
	v, err := b.Wait(ctx, next.ID)
	require.NoError(t, err)
	require.True(t, want.Equal(v.Value.(time.Time)), "the next run got its argument")
	require.NoError(t, b.Cancel(ctx, firstScheduled(t, b).ID))
	require.NoError(t, b.Drain(ctx))
}

func firstScheduled(t *testing.T, b localtasks.Controller) localtasks.TaskResult {
	t.Helper()
	snap := snapshotOf(t, b)
	require.NotEmpty(t, snap.Scheduled)
	return snap.Scheduled[0]
}

// The process pool's snapshot lists its processes.
func TestProcessPoolSnapshotWorkers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	for i := range 6 {
		_, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	snap := snapshotOf(t, b)
	require.Len(t, snap.Workers, 2)
	var done int
	for _, w := range snap.Workers {
		require.Positive(t, w.PID)
		if runtime.GOOS == "linux" {
			require.Greater(t, w.MemoryBytes, int64(1<<20), "a worker's resident memory")
		}
		done += w.TasksDone
	}
	require.Equal(t, 6, done)
	require.Equal(t, uint64(6), snap.Counters.Succeeded)
}

// minutely is a Schedule, every minute, that counts its calls.
type minutely struct{ calls atomic.Int32 }

func (m *minutely) Next(t time.Time) time.Time {
	m.calls.Add(1)
	return t.Add(time.Minute)
}

var (
	minutelySchedule = &minutely{}
	// byMinutely runs by minutelySchedule, and reports its process.
	byMinutely = localtasks.Define("test.by-minutely", func(ctx context.Context, _ struct{}) (int, error) {
		return os.Getpid(), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Schedule: minutelySchedule}))
)

// On a process pool, a chain's Schedule is called in the parent, which
// keeps the chain, while its runs run in the worker processes.
func TestProcessPoolScheduleInParent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	hd, err := byMinutely.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, int32(1), minutelySchedule.calls.Load(), "for the first run, at Enqueue")
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	pid, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.NotEqual(t, os.Getpid(), pid, "the run ran in a worker process")
	require.Equal(t, int32(2), minutelySchedule.calls.Load(), "and again in the parent, for the next")
	next := firstScheduled(t, b)
	require.Equal(t, localtaskstest.Epoch.Add(2*time.Minute), next.RunAfter)
	require.NoError(t, b.Cancel(ctx, next.ID), "not automatic: the cut ends the chain")
	require.NoError(t, b.Drain(ctx))
}
