package localtaskstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// watchCases are the cases of localtasks.Watch, which follows one run. On
// a backend that is not a localtasks.Watcher, Watch yields the state now
// and the final one only: the cases that look for the states in between
// need a Watcher.
func (h *harness) watchCases() []testCase {
	_, watcher := h.probe.(localtasks.Watcher)
	cs := []testCase{{"WatchUnknownID", testWatchUnknownID}}
	if h.runs {
		cs = append(cs, testCase{"WatchFinished", testWatchFinished}, testCase{"WatchInOrder", testWatchInOrder})
		if watcher && h.caps.CancelRunning {
			cs = append(cs, testCase{"WatchRunningThenCancelled", testWatchRunningThenCancelled})
		}
	}
	if h.caps.Defer {
		cs = append(cs, testCase{"WatchCtxEnds", testWatchCtxEnds})
		if watcher && h.caps.Cancel {
			cs = append(cs, testCase{"WatchMany", testWatchMany})
		}
	}
	return cs
}

// watchAll collects what a watch of id yields, failing on an error.
func watchAll(t *testing.T, ctx context.Context, b localtasks.Backend, id string) []localtasks.TaskResult {
	t.Helper()
	var got []localtasks.TaskResult
	for res, err := range localtasks.Watch(ctx, b, id) {
		require.NoError(t, err, "watching %s after %d values", id, len(got))
		got = append(got, res)
	}
	return got
}

func testWatchUnknownID(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	for _, id := range []string{uuid.NewString(), "not-a-task-id"} {
		n := 0
		for res, err := range localtasks.Watch(ctx, b, id) {
			n++
			require.ErrorIs(t, err, localtasks.ErrResultNotFound, "Watch(%q)", id)
			require.Zero(t, res.Status)
		}
		require.Equal(t, 1, n, "Watch(%q) yields its error, and nothing after", id)
	}
}

// testWatchFinished: a watch of a finished run yields the final snapshot
// at once, and ends.
func testWatchFinished(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Steps.Enqueue(ctx, b, 3)
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.NoError(t, err)
	got := watchAll(t, ctx, b, hd.ID())
	require.Len(t, got, 1, "a finished run yields its final snapshot, and the watch ends")
	require.Equal(t, localtasks.StatusSuccessful, got[0].Status)
	require.Equal(t, hd.ID(), got[0].ID)
	require.Equal(t, int64(3), got[0].Progress.Done)
}

// testWatchInOrder: whatever a watch skips of a fast run, what it yields
// comes in the order the run went, and ends with the final status.
func testWatchInOrder(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd := <-enqueueAsync(ctx, Steps, b, 5)
	got := watchAll(t, ctx, b, hd.ID())
	require.NotEmpty(t, got)
	for i := 1; i < len(got); i++ {
		prev, cur := got[i-1], got[i]
		require.False(t, prev.Status.Finished(), "nothing comes after the final status: %v then %v", prev.Status, cur.Status)
		require.GreaterOrEqual(t, cur.Status, prev.Status, "value %d: a status never goes back, in a run without retries", i)
		require.GreaterOrEqual(t, cur.Progress.Done, prev.Progress.Done, "value %d: progress never goes back", i)
	}
	last := got[len(got)-1]
	require.Equal(t, localtasks.StatusSuccessful, last.Status)
	require.Equal(t, int64(5), last.Progress.Done)
	require.Equal(t, 5, mustValue[int](t, last))
}

func mustValue[R any](t *testing.T, res localtasks.TaskResult) R {
	t.Helper()
	v, err := localtasks.Value[R](res)
	require.NoError(t, err)
	return v
}

// testWatchRunningThenCancelled: a watch sees its run start, then end.
func testWatchRunningThenCancelled(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	running := false
	var statuses []localtasks.Status
	for res, err := range hd.Watch(ctx) {
		require.NoError(t, err)
		statuses = append(statuses, res.Status)
		switch res.Status {
		case localtasks.StatusScheduled, localtasks.StatusReady:
			require.False(t, running, "queued after it ran: %v", statuses)
		case localtasks.StatusRunning:
			require.False(t, running, "RUNNING twice in one attempt: %v", statuses)
			require.Equal(t, 1, res.Attempts)
			running = true
			require.NoError(t, hd.Cancel(ctx))
		case localtasks.StatusCancelled:
			require.True(t, running, "the watch saw the run start before it ended: %v", statuses)
		default:
			t.Fatalf("unexpected status %v: %v", res.Status, statuses)
		}
	}
	require.Equal(t, localtasks.StatusCancelled, statuses[len(statuses)-1], "the watch ends with the final status")
}

// testWatchCtxEnds: a watch of a run that does not change ends with ctx,
// yielding ctx's error.
func testWatchCtxEnds(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []error
	for res, err := range hd.Watch(wctx) {
		got = append(got, err)
		if err == nil {
			require.Equal(t, localtasks.StatusScheduled, res.Status)
			cancel()
		}
	}
	require.Len(t, got, 2, "its state, then ctx's error: %v", got)
	require.NoError(t, got[0])
	require.ErrorIs(t, got[1], context.Canceled)
}

// testWatchMany: many watches of one run each see it end.
func testWatchMany(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	const n = 10
	var ready, done sync.WaitGroup
	ready.Add(n)
	type seen struct {
		statuses []localtasks.Status
		err      error
	}
	out := make(chan seen, n)
	for range n {
		done.Go(func() {
			var s seen
			first := true
			for res, err := range hd.Watch(ctx) {
				if first {
					ready.Done()
					first = false
				}
				if err != nil {
					s.err = err
					break
				}
				s.statuses = append(s.statuses, res.Status)
			}
			if first {
				ready.Done()
			}
			out <- s
		})
	}
	ready.Wait() // each watch has yielded its first value
	require.NoError(t, hd.Cancel(ctx))
	done.Wait()
	close(out)
	for s := range out {
		require.NoError(t, s.err)
		require.Equal(t, []localtasks.Status{localtasks.StatusScheduled, localtasks.StatusCancelled}, s.statuses)
	}
}
