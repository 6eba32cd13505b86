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

// TestWatchRunElsewhere watches, from a backend that runs nothing, a run
// that another backend's workers run, as from another process: its start
// reaches the watch by polling alone, its end by the finish notification.
func TestWatchRunElsewhere(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := newSchema(t)
	worker, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Tasks: []string{localtaskstest.Block.Name()}})
	require.NoError(t, err)
	defer worker.Close(ctx)
	producer, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, WatchPollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	defer producer.Close(ctx)

	h, err := localtaskstest.Block.Enqueue(ctx, producer, struct{}{})
	require.NoError(t, err)
	var statuses []localtasks.Status
	for res, err := range h.Watch(ctx) {
		require.NoError(t, err)
		statuses = append(statuses, res.Status)
		if res.Status == localtasks.StatusRunning {
			require.NoError(t, h.Cancel(ctx))
		}
	}
	require.GreaterOrEqual(t, len(statuses), 2)
	require.Equal(t, localtasks.StatusRunning, statuses[len(statuses)-2], "the watch saw the run start: %v", statuses)
	require.Equal(t, localtasks.StatusCancelled, statuses[len(statuses)-1], "and end: %v", statuses)
}

func TestWatchPollIntervalNegative(t *testing.T) {
	t.Parallel()
	_, err := ltriver.New(context.Background(), pool, ltriver.Config{WatchPollInterval: -time.Second})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "WatchPollInterval")
}
