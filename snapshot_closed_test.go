package localtasks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Snapshot.Closed says a backend accepts no more runs: once it is closed,
// though another backend of its Name still holds the state, and once the
// state is shut down. A thread pool never restarts a worker.
func TestSnapshotClosed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.ThreadPoolConfig{MaxWorkers: 2, Config: localtasks.Config{Name: "snapshot-closed"}}
	a := newPool(t, cfg)
	b := newPool(t, cfg) // shares a's state
	snap, err := a.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.False(t, snap.Closed)
	require.Zero(t, snap.Counters.WorkerRestarts)
	require.True(t, snap.LastWorkerRestart.IsZero())

	require.NoError(t, a.Close(ctx))
	snap, err = a.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err, "a closed backend still answers Snapshot")
	require.True(t, snap.Closed, "a is closed")
	snap, err = b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.False(t, snap.Closed, "b still takes runs")

	require.NoError(t, b.Close(ctx)) // the last: the state shuts down
	snap, err = b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.True(t, snap.Closed)
}
