package river_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// TestEventsEnqueuedBeforeStarted checks that a subscriber sees each run
// enqueued before it sees it start, though this process's workers may take
// a run as soon as its insert commits, before Enqueue has returned.
func TestEventsEnqueuedBeforeStarted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 8, Logger: quiet, FetchCooldown: time.Millisecond})
	require.NoError(t, err)
	defer b.Close(ctx)
	sub := b.Subscribe(4096)
	defer sub.Close()

	const each, batches, batch = 100, 5, 20
	var ids []string
	for i := range each {
		h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	for range batches {
		hs, err := localtaskstest.Echo.EnqueueMany(ctx, b, make([]localtaskstest.EchoArgs, batch))
		require.NoError(t, err)
		for _, h := range hs {
			ids = append(ids, h.ID())
		}
	}
	seen := map[string][]localtasks.EventKind{}
	for finished := 0; finished < len(ids); {
		select {
		case ev := <-sub.C():
			seen[ev.Result.ID] = append(seen[ev.Result.ID], ev.Kind)
			if ev.Kind == localtasks.EventFinished {
				finished++
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d runs finished: %v", finished, len(ids), ctx.Err())
		}
	}
	want := []localtasks.EventKind{localtasks.EventEnqueued, localtasks.EventStarted, localtasks.EventFinished}
	for _, id := range ids {
		require.Equal(t, want, seen[id], "the events of run %s, in order", id)
	}
}
