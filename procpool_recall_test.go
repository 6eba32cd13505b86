//go:build unix

package localtasks_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// ledgerArgs asks ledgerTask to append its run's ID to the file at Path,
// then to spin for Spin.
type ledgerArgs struct {
	Path string
	Spin time.Duration
}

// ledgerTask records each execution of a run in a file, one line each (an
// append of a few bytes is atomic), so that a test can count them.
var ledgerTask = localtasks.Define("proc.ledger", func(ctx context.Context, a ledgerArgs) (int, error) {
	f, err := os.OpenFile(a.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	_, err = f.WriteString(localtasks.TaskID(ctx) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	for start := time.Now(); time.Since(start) < a.Spin; {
	}
	return os.Getpid(), err
})

// A long run does not hold up the runs sent behind it in its worker's
// window while another worker is idle: the idle worker takes them back.
// Two workers, windows of 8: a blocker in each, then 14 short runs, 7 in
// each window. When the first blocker ends, its worker runs its 7, goes
// idle, and must run the 7 waiting behind the other blocker too, which
// runs on until the end.
func TestProcessPoolIdleWorkerTakesRunsWaitingBehindALongOne(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2, Window: 8})
	dispatched := localtasks.DispatchedForTest(b)
	recalls := localtasks.CountRecallsForTest(b)
	sub := b.Subscribe(256)
	defer sub.Close()

	first, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	long, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	started := startedEvents(t, ctx, sub, first.ID(), long.ID())
	pids := map[string]int{}
	for _, res := range started {
		pids[res.ID] = workerPID(t, res)
	}
	require.NotEqual(t, pids[first.ID()], pids[long.ID()], "a blocker in each worker")
	t.Cleanup(func() { long.Cancel(context.Background()) }) // before Close, if the test fails

	var shorts []localtasks.Handle[int]
	for range 14 {
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		shorts = append(shorts, h)
	}
	for range 2 + 14 { // both windows full: 7 short runs wait behind each blocker
		select {
		case <-dispatched:
		case <-ctx.Done():
			t.Fatal("the runs were not all sent to the workers")
		}
	}
	require.NoError(t, first.Cancel(ctx))

	for i, h := range shorts {
		pid, err := h.Wait(ctx)
		require.NoError(t, err, "short run %d, while the long one runs", i)
		require.Equal(t, pids[first.ID()], pid, "short run %d ran on the free worker", i)
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Attempts)
		require.Len(t, res.WorkerIDs, 1, "short run %d ran once", i)
	}
	st, err := long.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusRunning, st, "the long run still runs")
	require.Equal(t, 7, recalls(), "the 7 behind the long run were given back")
	require.NoError(t, long.Cancel(ctx))
}

// A recall races with the worker starting the run: the worker either gives
// it back or runs it, never both. Waves of short runs behind a longer one
// make idle workers recall runs just as they start; each run must have run
// exactly once.
func TestProcessPoolRecallRunsEachRunOnce(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	recalls := localtasks.CountRecallsForTest(b)
	n := 0
	path := filepath.Join(t.TempDir(), "ledger")
	var all []localtasks.Handle[int]
	for wave := range 20 {
		var hs []localtasks.Handle[int]
		for i := range 60 {
			spin := 20 * time.Microsecond
			if i == wave%7 {
				spin = 5 * time.Millisecond
			}
			h, err := ledgerTask.Enqueue(ctx, b, ledgerArgs{Path: path, Spin: spin})
			require.NoError(t, err)
			hs = append(hs, h)
		}
		for _, h := range hs {
			_, err := h.Wait(ctx)
			require.NoError(t, err)
		}
		all = append(all, hs...)
		n += len(hs)
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(bytes.TrimSpace(data)), "\n")
	seen := map[string]int{}
	for _, id := range lines {
		seen[id]++
	}
	require.Len(t, lines, n, "as many executions as runs")
	for _, h := range all {
		require.Equal(t, 1, seen[h.ID()], "run %s ran once", h.ID())
	}
	t.Logf("%d runs given back, of %d", recalls(), n)
}
