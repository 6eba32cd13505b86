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

// Snapshot.Closed says Close was called; a closed backend still lists the
// database's runs, for the dashboard's health check to tell.
func TestSnapshotClosed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Logger: quiet})
	require.NoError(t, err)
	defer b.Close(ctx)
	_, err = localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.False(t, snap.Closed)

	require.NoError(t, b.Close(ctx))
	snap, err = b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.True(t, snap.Closed)
	require.Equal(t, 1, snap.Counts.Scheduled, "its runs stay in the database")
	require.True(t, snap.LastWorkerRestart.IsZero())
}
