//go:build unix

package localtasks_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Counters.WorkerRestarts counts the workers started to replace one that
// retired, not the first ones nor those SetMaxWorkers adds, and
// Snapshot.LastWorkerRestart says when the last one started.
func TestProcessPoolCountsWorkerRestarts(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 1})
	require.NoError(t, b.SetMaxWorkers(2)) // a slot added: not a restart
	before := time.Now()
	require.Zero(t, b.Counters().WorkerRestarts)
	pids := map[int]bool{}
	for len(pids) < 3 { // each worker retires after one run
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		pid, err := h.Wait(ctx)
		require.NoError(t, err)
		pids[pid] = true
	}
	// Three workers ran a run; at most two of them were the first of their
	// slots, and every retirement since may have been replaced already.
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.GreaterOrEqual(t, snap.Counters.WorkerRestarts, uint64(1))
	require.LessOrEqual(t, snap.Counters.WorkerRestarts, uint64(3))
	require.False(t, snap.LastWorkerRestart.Before(before), "last restart %v, before the runs %v", snap.LastWorkerRestart, before)
	require.False(t, snap.Closed)
}
