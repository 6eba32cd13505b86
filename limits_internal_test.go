package localtasks

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	internalLimited = Define("internal.limited", func(ctx context.Context, a strikeArgs) (int64, error) {
		<-ctx.Done()
		return a.ID, ctx.Err()
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID"}))
	internalPIDless     = Define("internal.marker", func(ctx context.Context, _ struct{}) (int, error) { return 1, nil })
	internalLimitedEcho = Define("internal.limited-echo", func(ctx context.Context, a strikeArgs) (int64, error) {
		return a.ID, nil
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 2, Per: "ID"}))
)

func TestRateGate(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &gate{}
	admit := func(now time.Time) time.Time {
		at := g.nextStart(now, 2, time.Minute)
		g.grant(at, 2)
		return at
	}
	require.Equal(t, t0, admit(t0))
	require.Equal(t, t0.Add(time.Second), admit(t0.Add(time.Second)))
	require.Equal(t, t0.Add(time.Minute), admit(t0.Add(2*time.Second)), "the third waits a window after the first")
	require.Equal(t, t0.Add(time.Minute+time.Second), admit(t0.Add(3*time.Second)), "the fourth after the second")
	require.Equal(t, t0.Add(5*time.Minute), admit(t0.Add(5*time.Minute)), "a quiet window frees the rate")
	require.Len(t, g.grants, 2, "it remembers max grants at most")
}

// A limit per argument value keeps a group per value only while it is in
// use: the groups go once their runs finish.
func TestGatesAreDropped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 4})
	require.NoError(t, err)
	defer b.Close(ctx)
	for i := range 500 {
		_, err := internalLimitedEcho.Enqueue(ctx, b, strikeArgs{ID: int64(i % 50)})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Empty(t, b.s.gates)
	require.Equal(t, uint64(500), b.s.counters.Succeeded)
}

// Close cancels the runs waiting for a concurrency slot, as it does the
// queued ones.
func TestCloseCancelsWaitingRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	sub := b.Subscribe(64)
	defer sub.Close()
	var ids []string
	for range 3 {
		hd, err := internalLimited.Enqueue(ctx, b, strikeArgs{ID: 1})
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	for ev := range sub.C() {
		if ev.Kind == EventStarted {
			require.Equal(t, ids[0], ev.Result.ID)
			break
		}
	}
	// Workers take runs in order: once a run queued after the limited
	// ones has finished, the free worker has taken both and parked them.
	marker, err := internalPIDless.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = marker.Wait(ctx)
	require.NoError(t, err)
	b.s.mu.Lock()
	var waiting int
	for _, g := range b.s.gates {
		waiting += len(g.waiting)
	}
	b.s.mu.Unlock()
	require.Equal(t, 2, waiting, "both later runs wait for the slot")

	closeCtx, stop := context.WithCancel(ctx)
	stop() // give up on the running one at once
	require.Error(t, b.Close(closeCtx))
	for i, id := range ids {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusCancelled, res.Status, "run %d", i)
		require.NotEmpty(t, res.CancelReason)
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Zero(t, b.s.active, "every run finished")
}
