package localtasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// finishedEvent waits for the EventFinished of the run with that ID.
func finishedEvent(t *testing.T, ctx context.Context, sub *localtasks.Subscription, id string) localtasks.TaskResult {
	t.Helper()
	for {
		select {
		case ev, ok := <-sub.C():
			require.True(t, ok, "the subscription closed before run %s finished", id)
			if ev.Kind == localtasks.EventFinished && ev.Result.ID == id {
				return ev.Result
			}
		case <-ctx.Done():
			t.Fatalf("run %s did not finish", id)
		}
	}
}

// A run with WithDiscardResult is there until it finishes; a Wait already
// waiting then returns its result, its event carries it, and it is gone,
// from the journal too, having evicted no other result.
func TestDiscardResult(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	j := localtaskstest.NewMemoryJournal()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: t.Name(), Journal: j, MaxResults: 1}})
	require.NoError(t, err)
	kept, err := journaled.Enqueue(ctx, b, jArgs{Name: "kept"})
	require.NoError(t, err)
	_, err = kept.Wait(ctx)
	require.NoError(t, err)

	gate := newJGate(t)
	sub := b.Subscribe(16)
	defer sub.Close()
	waiting := localtasks.WaitingForTest(b)
	hd, err := journaled.Using(localtasks.WithDiscardResult()).Enqueue(ctx, b, jArgs{Name: "discarded", Gate: gate})
	require.NoError(t, err)
	require.Equal(t, "discarded", <-jGateOf(gate).started)
	res, err := hd.Result(ctx)
	require.NoError(t, err, "there until it finishes")
	require.Equal(t, localtasks.StatusRunning, res.Status)

	type waited struct {
		v   string
		err error
	}
	got := make(chan waited, 1)
	go func() {
		v, err := hd.Wait(ctx)
		got <- waited{v, err}
	}()
	require.Equal(t, hd.ID(), <-waiting)
	jGateOf(gate).open()
	w := <-got
	require.NoError(t, w.err)
	require.Equal(t, "done discarded", w.v, "a Wait already waiting returns the result")
	ev := finishedEvent(t, ctx, sub, hd.ID())
	require.Equal(t, localtasks.StatusSuccessful, ev.Status)
	require.Equal(t, "done discarded", ev.Value, "the event carries the final result")

	_, err = hd.Result(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	require.ErrorContains(t, err, "keeps no result (WithDiscardResult)")
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	v, err := kept.Result(ctx)
	require.NoError(t, err, "it evicted no other result")
	require.Equal(t, "done kept", v.Value)
	require.NoError(t, localtasks.CheckCountsForTest(b))
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCounts{Successful: 1}, snap.Counts)

	require.NoError(t, b.Close(ctx))
	_, ok := j.Run(hd.ID())
	require.False(t, ok, "its journal row is deleted")
	_, ok = j.Run(kept.ID())
	require.True(t, ok)
}

// A run with WithDiscardResult that a restart resumes from the journal
// still keeps no result.
func TestDiscardResultResumed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	hd, err := journaled.Using(localtasks.WithDiscardResult(), localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: "later"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))
	_, ok := j.Run(hd.ID())
	require.True(t, ok, "scheduled, it is in the journal")

	b2 := journalPool(t, t.Name(), j, clock, 1)
	res, err := b2.GetResult(ctx, hd.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	sub := b2.Subscribe(16)
	defer sub.Close()
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	ev := finishedEvent(t, ctx, sub, hd.ID())
	require.Equal(t, "done later", ev.Value)
	_, err = b2.GetResult(ctx, hd.ID())
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "resumed, it still keeps no result")
	require.NoError(t, b2.Close(ctx))
	require.Empty(t, j.Runs())
}

// A perpetual task's successors inherit WithDiscardResult.
func TestDiscardResultPerpetual(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	sub := b.Subscribe(64)
	defer sub.Close()
	first, err := journaledEvery.Using(localtasks.WithDiscardResult()).Enqueue(ctx, b, 0)
	require.NoError(t, err)
	next := nextEnqueued(t, sub, first.ID())
	require.Equal(t, 1, next.Args)
	finishedEvent(t, ctx, sub, first.ID())
	_, err = first.Result(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	third := nextEnqueued(t, sub, next.ID) // enqueued as next finishes, before next's EventFinished
	require.Equal(t, 1, finishedEvent(t, ctx, sub, next.ID).Value)
	_, err = b.GetResult(ctx, next.ID)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "the successor keeps no result either")
	require.NoError(t, b.Cancel(ctx, third.ID), "ends the chain")
	require.NoError(t, b.Drain(ctx))
}

// A failure kept apart from a burst of successes is found by every reader:
// GetResult, the snapshot's listing of finished runs, and FindIDs.
func TestFailuresKeptApartReaders(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{MaxResults: 1}})
	failed, err := localtaskstest.Flaky.Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "boom", FailAttempts: 1})
	require.NoError(t, err)
	_, err = failed.Wait(ctx)
	require.Error(t, err)
	var last string
	for i := range 3 {
		h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
		last = h.ID()
	}
	res, err := failed.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)

	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	var listed []string
	for _, r := range snap.Finished {
		listed = append(listed, r.ID)
	}
	require.ElementsMatch(t, []string{last, failed.ID()}, listed, "the snapshot lists the newest success and the failure")
	require.Equal(t, localtasks.StatusCounts{Successful: 1, Failed: 1}, snap.Counts)

	ids, err := b.FindIDs(ctx, failed.ID()[:8], 10)
	require.NoError(t, err)
	require.Equal(t, []string{failed.ID()}, ids)
}
