package localtasks_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A run that starts while a snapshot lists the unfinished runs is listed,
// READY or RUNNING: the listing reads the statuses in the order runs move
// through them. (Read RUNNING first, it missed the run in more than half
// of these rounds.)
func TestSnapshotListsARunThatStarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for range 100 {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
		require.NoError(t, err)
		h, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{
			Statuses: []localtasks.Status{localtasks.StatusReady, localtasks.StatusRunning}})
		require.NoError(t, err)
		require.NotEmpty(t, append(snap.Queued, snap.Running...), "the run, READY or RUNNING")
		require.NoError(t, h.Cancel(ctx))
		require.NoError(t, b.Close(ctx))
	}
}
