package localtasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// Pauses are kept in the journal: a backend built again on it starts
// paused, with the held run still queued, and a resume lifts the pause for
// the next restart too. So are deadlines.
func TestJournalPauses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	require.NoError(t, b.Pause(ctx, localtasks.Pause{Task: journaled.Name()}))
	h, err := journaled.Using(localtasks.WithStartWithin(time.Hour)).Enqueue(ctx, b, jArgs{Name: "held"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	b2 := journalPool(t, t.Name(), j, clock, 1)
	require.Equal(t, []localtasks.Pause{{Task: journaled.Name()}}, b2.Pauses())
	res, err := b2.GetResult(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, res.Status)
	require.Equal(t, localtaskstest.Epoch.Add(time.Hour), res.Deadline)
	require.NoError(t, b2.Resume(ctx, localtasks.Pause{Task: journaled.Name()}))
	res, err = b2.Wait(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.NoError(t, b2.Close(ctx))

	b3 := journalPool(t, t.Name(), j, clock, 1)
	defer b3.Close(ctx)
	require.Empty(t, b3.Pauses())
}

// Close cancels the runs a pause holds, as it cancels every queued run, and
// a held run cancelled by ID ends at once.
func TestPauseCloseCancelsHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	require.NoError(t, b.Pause(ctx, localtasks.Pause{Queue: localtasks.QueueDefault}))
	hs, err := localtaskstest.Echo.EnqueueMany(ctx, b, []localtaskstest.EchoArgs{{N: 1}, {N: 2}, {N: 3}})
	require.NoError(t, err)
	// A run enqueued after the pause is taken off the line by a worker only
	// when one is free: wait until all three are set aside or still queued.
	require.NoError(t, hs[0].Cancel(ctx))
	st, err := hs[0].Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, st)
	require.NoError(t, b.Close(ctx))
	for _, h := range hs[1:] {
		res, err := b.GetResult(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		require.Contains(t, res.CancelReason, "closed")
	}
	require.ErrorIs(t, b.Pause(ctx, localtasks.Pause{Queue: localtasks.QueueDefault}), localtasks.ErrClosed)
}

// The immediate and recording backends have no queue to pause, nor workers
// to share between queues.
func TestPauseUnsupported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	im, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	defer im.Close(ctx)
	require.ErrorIs(t, im.Pause(ctx, localtasks.Pause{Queue: localtasks.QueueDefault}), errors.ErrUnsupported)
	_, err = localtasks.NewImmediate(localtasks.Config{QueueWorkers: map[string]int{localtasks.QueueDefault: 1}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	for _, qw := range []map[string]int{{"nope": 1}, {localtasks.QueueDefault: 0}} {
		_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{QueueWorkers: qw}})
		require.ErrorIs(t, err, localtasks.ErrConfig, "%v", qw)
	}
}

// A run restored from the journal after its deadline passed ends CANCELLED
// as the backend opens, whether it was queued or scheduled.
func TestJournalDeadlinePassedWhileStopped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	require.NoError(t, b.Pause(ctx, localtasks.Pause{Task: journaled.Name()}))
	queued, err := journaled.Using(localtasks.WithStartWithin(time.Minute)).Enqueue(ctx, b, jArgs{Name: "queued"})
	require.NoError(t, err)
	scheduled, err := journaled.Using(localtasks.WithDelay(time.Minute), localtasks.WithStartWithin(time.Minute)).Enqueue(ctx, b, jArgs{Name: "scheduled"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	clock.Advance(time.Hour) // no backend runs meanwhile
	b2 := journalPool(t, t.Name(), j, clock, 1)
	defer b2.Close(ctx)
	// The task is still paused (the journal kept the pause): no worker
	// takes the runs, and only the timers of their deadlines, which the
	// restore set in the past, end them.
	require.Equal(t, []localtasks.Pause{{Task: journaled.Name()}}, b2.Pauses())
	clock.Advance(0)
	for _, id := range []string{queued.ID(), scheduled.ID()} {
		res, err := b2.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		require.Contains(t, res.CancelReason, "deadline passed")
	}
}
