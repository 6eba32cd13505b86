package localtasks_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// Workers report lazily: runs sent together start without the parent
// hearing of each. When the worker dies then, the parent cannot tell which
// run killed it: each of its runs is re-run alone (at least once), so the
// innocent complete and the one that exits fails alone, with its own
// WorkerExitError, on its one attempt.
func TestProcessPoolCrashAmongUnreportedRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}},
		MaxWorkers: 1, Window: 8})
	// Due at the same moment, the runs reach the worker in one batch.
	later := exitTask.Using(localtasks.WithDelay(time.Second))
	var innocent []localtasks.Handle[int]
	var culprit localtasks.Handle[int]
	for i := range 6 {
		args := exitArgs{}
		if i == 3 {
			args = exitArgs{Code: 7, OnAttempts: 99}
		}
		h, err := later.Enqueue(ctx, b, args)
		require.NoError(t, err)
		if i == 3 {
			culprit = h
		} else {
			innocent = append(innocent, h)
		}
	}
	require.NoError(t, clock.BlockUntil(ctx, 1), "the run-after timer")
	clock.Advance(time.Second)

	_, err := culprit.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit, "the run that exits fails with its worker's death")
	require.Equal(t, 7, exit.ExitCode)
	res, err := culprit.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, 1, res.Attempts, "blamed once, on the attempt that exited alone")
	for i, h := range innocent {
		_, err := h.Wait(ctx)
		require.NoError(t, err, "innocent run %d", i)
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Attempts, "innocent run %d", i)
	}
}
