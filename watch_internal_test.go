package localtasks

import (
	"context"
	"iter"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWatchUnregisters checks that every way a watch ends drops its
// channel from the run, so that a run no one watches any more costs
// record.changed a nil check again.
func TestWatchUnregisters(t *testing.T) {
	t.Parallel()
	s := newStoreState(t, 0)
	rec := newRunning(s)
	watchers := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		if rec.x == nil || rec.x.watchers == nil {
			return 0
		}
		return len(rec.x.watchers)
	}
	seq := func(ctx context.Context) iter.Seq2[TaskResult, error] {
		return func(yield func(TaskResult, error) bool) { s.watch(ctx, rec.id, yield) }
	}

	// Three watches, pulled one value each: all registered. The last has
	// a ctx of its own.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stops []func()
	var nexts []func() (TaskResult, error, bool)
	for i := range 3 {
		c := context.Background()
		if i == 2 {
			c = ctx
		}
		next, stop := iter.Pull2(seq(c))
		res, err, ok := next()
		require.True(t, ok)
		require.NoError(t, err)
		require.Equal(t, StatusRunning, res.Status)
		nexts, stops = append(nexts, next), append(stops, stop)
	}
	require.Equal(t, 3, watchers())

	stops[0]() // the loop broke
	require.Equal(t, 2, watchers())

	cancel() // the last one's ctx ends: nothing changed since its first value
	_, err, ok := nexts[2]()
	require.True(t, ok)
	require.ErrorIs(t, err, context.Canceled)
	_, _, ok = nexts[2]()
	require.False(t, ok)
	require.Equal(t, 1, watchers())

	s.setProgress(rec, nil, 1, 2, "half") // rec.run is nil: the same attempt
	res, err, ok := nexts[1]()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, res.Status)
	require.Equal(t, int64(1), res.Progress.Done, "a progress report wakes the watch")

	publish(s, rec, false) // the run finished
	res, _, ok = nexts[1]()
	require.True(t, ok)
	require.Equal(t, StatusSuccessful, res.Status)
	_, _, ok = nexts[1]()
	require.False(t, ok)
	require.Equal(t, 0, watchers(), "the watch that saw the end is gone")
	require.Nil(t, rec.x.watchers, "nil again, for record.changed")
	for _, stop := range stops {
		stop()
	}
}
