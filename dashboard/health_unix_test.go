//go:build unix

package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// pidTask returns the ID of the process that runs it: a process pool's
// worker.
var pidTask = localtasks.Define("dashboard_test.pid", func(ctx context.Context, _ struct{}) (int, error) {
	return os.Getpid(), nil
})

// newProcPool builds a private process pool of this test binary's
// workers (TestMain calls Init), which the test's cleanup closes.
func newProcPool(t *testing.T, cfg localtasks.ProcessPoolConfig) *localtasks.ProcessPoolBackend {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler) // a killed worker is logged
	pool, err := localtasks.NewProcessPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, pool.Close(ctx))
	})
	return pool
}

// A process-pool worker that is killed is replaced: the health says when,
// and counts it.
func TestHealthShowsWorkerRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h := newHandler(t, false, pool)
	before := decode[dashboard.Health](t, serve(h, http.MethodGet, "/api/health", "")).Backends[0]
	require.True(t, before.OK)
	require.Equal(t, 1, before.WorkersAlive)
	require.Zero(t, before.WorkerRestarts)
	require.Nil(t, before.LastWorkerRestart)

	first, err := pidTask.Enqueue(ctx, pool, struct{}{})
	require.NoError(t, err)
	pid, err := first.Wait(ctx)
	require.NoError(t, err)
	proc, err := os.FindProcess(pid)
	require.NoError(t, err)
	killedAt := time.Now()
	require.NoError(t, proc.Kill())
	// A run that ends on the next worker started after the restart was
	// counted (the run that was sent to the dying worker, if any, is
	// sent again).
	for {
		next, err := pidTask.Enqueue(ctx, pool, struct{}{})
		require.NoError(t, err)
		newPID, err := next.Wait(ctx)
		require.NoError(t, err)
		if newPID != pid {
			break
		}
	}

	rec := serve(h, http.MethodGet, "/api/health", "")
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	after := decode[dashboard.Health](t, rec).Backends[0]
	require.True(t, after.OK)
	require.Equal(t, 1, after.Workers)
	require.Equal(t, 1, after.WorkersAlive)
	require.GreaterOrEqual(t, after.WorkerRestarts, uint64(1))
	require.NotNil(t, after.LastWorkerRestart)
	snap := decode[dashboard.Snapshot](t, serve(h, http.MethodGet, "/api/snapshot?limit=1", ""))
	require.Equal(t, after.WorkerRestarts, snap.Backends[0].Counters.WorkerRestarts, "the snapshot's counters count them too")
	require.False(t, after.LastWorkerRestart.Before(killedAt), "restarted at %v, killed at %v", after.LastWorkerRestart, killedAt)
}

// BenchmarkHealth measures GET api/health of a dashboard of a thread pool
// of 8 workers holding a backlog of 100,000 scheduled runs and a process
// pool of 4 workers: the answer costs one small Snapshot per backend,
// whatever the backlog.
func BenchmarkHealth(b *testing.B) {
	ctx := context.Background()
	threads, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 8})
	require.NoError(b, err)
	defer threads.Close(ctx)
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 4, Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(b, err)
	defer procs.Close(ctx)
	later := echoTask.Using(localtasks.WithDelay(time.Hour))
	for range 100_000 {
		_, err := later.Enqueue(ctx, threads, shopArgs{})
		require.NoError(b, err)
	}
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{threads, procs}})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(h, http.MethodGet, "/api/health", ""); rec.Code != http.StatusOK {
			b.Fatalf("health answered %d: %s", rec.Code, rec.Body)
		}
	}
}
