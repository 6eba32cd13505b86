package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// Plain enqueues on a thread pool take a lock-free path (state.post): these
// check that nothing posted is lost or miscounted, whatever runs at the same
// time.

// Drain and Counters count runs posted and not yet taken in by a worker.
func TestPostedRunsAreCounted(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{MaxResults: 10_000}})
	// The one worker is busy: what follows waits in the inbox or the queue.
	sub := b.Subscribe(16)
	blocker, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	awaitStarted(t, ctx, sub, blocker.ID())
	const n = 1000
	hs := make([]localtasks.Handle[localtaskstest.EchoArgs], n)
	for i := range hs {
		hs[i], err = localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
	}
	require.Equal(t, uint64(n+1), b.Counters().Enqueued, "every run posted is counted")
	require.Len(t, snapshotOf(t, b).Queued, n, "and listed")
	require.NoError(t, blocker.Cancel(ctx))
	require.NoError(t, b.Drain(ctx))
	c := b.Counters()
	require.Equal(t, uint64(n), c.Succeeded)
	require.Equal(t, uint64(1), c.Cancelled)
	for i, h := range hs {
		v, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, i, v.N)
	}
}

// A run posted and cancelled before a worker took it in ends CANCELLED,
// and is counted once.
func TestPostedRunCancelled(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	sub := b.Subscribe(16)
	blocker, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	awaitStarted(t, ctx, sub, blocker.ID())
	h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	require.NoError(t, h.Cancel(ctx))
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	require.NoError(t, blocker.Cancel(ctx))
	require.NoError(t, b.Drain(ctx))
	c := b.Counters()
	require.Equal(t, uint64(2), c.Enqueued)
	require.Equal(t, uint64(2), c.Cancelled)
}

// Enqueues racing Close: each either fails with ErrClosed or makes a run
// that ends in a final status; none is left READY.
func TestPostRacesClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for range 20 {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2, Config: localtasks.Config{MaxResults: 100_000}})
		require.NoError(t, err)
		var (
			mu  sync.Mutex
			ids []string
			wg  sync.WaitGroup
		)
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
					if errors.Is(err, localtasks.ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ids = append(ids, h.ID())
					mu.Unlock()
				}
			})
		}
		close(start)
		closeCtx, cancel := context.WithCancel(ctx)
		require.NoError(t, b.Close(closeCtx))
		cancel()
		wg.Wait()
		for _, id := range ids {
			res, err := b.GetResult(ctx, id)
			require.NoError(t, err)
			require.True(t, res.Status.Finished(), "run %s is %v after Close", id, res.Status)
		}
	}
}

// awaitStarted waits for the event of the start of run id, and closes sub,
// so that the runs after are enqueued with nobody subscribed.
func awaitStarted(t *testing.T, ctx context.Context, sub *localtasks.Subscription, id string) {
	t.Helper()
	defer sub.Close()
	for {
		select {
		case ev := <-sub.C():
			if ev.Kind == localtasks.EventStarted && ev.Result.ID == id {
				return
			}
		case <-ctx.Done():
			t.Fatalf("run %s did not start: %v", id, ctx.Err())
		}
	}
}

// order records the arguments of its runs in the order they ran.
var order = struct {
	sync.Mutex
	ran []int
}{}

var orderTask = localtasks.Define("test.inbox.order", func(ctx context.Context, n int) (int, error) {
	order.Lock()
	order.ran = append(order.ran, n)
	order.Unlock()
	return n, nil
})

// Runs start in the order they were enqueued whichever way they came in:
// through the inbox, or, with a key or past the inbox's bound, under the
// lock.
func TestPostedAndLockedRunsKeepTheirOrder(t *testing.T) {
	order.Lock()
	order.ran = nil // for -count
	order.Unlock()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{MaxResults: 20_000}})
	sub := b.Subscribe(16)
	blocker, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	awaitStarted(t, ctx, sub, blocker.ID())
	const n = 6000 // past the inbox's bound of 4096
	var want []int
	for i := range n {
		task := orderTask
		if i%1000 == 999 {
			task = orderTask.Using(localtasks.WithKey(fmt.Sprint(i))) // under the lock
		}
		_, err := task.Enqueue(ctx, b, i)
		require.NoError(t, err)
		want = append(want, i)
	}
	require.NoError(t, blocker.Cancel(ctx))
	require.NoError(t, b.Drain(ctx))
	order.Lock()
	defer order.Unlock()
	require.Equal(t, want, order.ran)
}
