package river_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// The multi-process test runs this test binary again as worker processes:
// workerEnv set makes TestMain run workerMain instead of the tests.
const (
	workerEnv       = "LOCALTASKS_RIVER_WORKER" // the worker's ID
	workerSchemaEnv = "LOCALTASKS_RIVER_SCHEMA"
	workerPollEnv   = "LOCALTASKS_RIVER_POLL"     // the worker's FetchPollInterval, if not 20ms
	workerCoolEnv   = "LOCALTASKS_RIVER_COOLDOWN" // the worker's FetchCooldown, if not River's
)

// pid returns the ID of the process that ran it, after holding a worker for
// the given time, so that one process cannot take every run.
var pid = localtasks.Define("river_test.pid", func(ctx context.Context, hold time.Duration) (int, error) {
	t := time.NewTimer(hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return os.Getpid(), nil
})

// workerMain runs River workers for every task until stdin closes.
func workerMain() int {
	ctx := context.Background()
	p, err := pgxpool.New(ctx, os.Getenv(pgURLEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer p.Close()
	poll := 20 * time.Millisecond
	if s := os.Getenv(workerPollEnv); s != "" {
		if poll, err = time.ParseDuration(s); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
	}
	var cool time.Duration
	if s := os.Getenv(workerCoolEnv); s != "" {
		if cool, err = time.ParseDuration(s); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
	}
	b, err := ltriver.New(ctx, p, ltriver.Config{
		ID: os.Getenv(workerEnv), Workers: 2, Schema: os.Getenv(workerSchemaEnv), Logger: quiet,
		FetchPollInterval: poll, FetchCooldown: cool,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Close(cctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// startWorker runs a worker process, stopped and reaped at the end of the
// test, and waits until it is ready; env is added to its environment.
func startWorker(t *testing.T, id, schema string, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), workerEnv+"="+id, workerSchemaEnv+"="+schema), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close() // the worker closes its backend and exits
		select {
		case err := <-exited:
			require.NoError(t, err, "worker %s", id)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("worker %s did not exit after its stdin closed: killed", id)
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	select {
	case line := <-ready:
		require.Equal(t, "ready\n", line, "worker %s did not start", id)
	case <-time.After(30 * time.Second):
		t.Fatalf("worker %s did not start in 30s", id)
	}
}

// TestMultiProcess runs tasks on two worker processes and reads their
// results from a third, this one, which enqueues them and runs none.
func TestMultiProcess(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	startWorker(t, "worker-a", schema)
	startWorker(t, "worker-b", schema)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })

	var ids []string
	for range 24 {
		h, err := pid.Enqueue(ctx, b, 50*time.Millisecond)
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	workers := map[string]int{}
	pids := map[int]bool{}
	for _, id := range ids {
		h, err := pid.GetResult(ctx, b, id) // by ID alone, as any process would
		require.NoError(t, err)
		p, err := h.Wait(ctx)
		require.NoError(t, err)
		require.NotEqual(t, os.Getpid(), p, "the reader runs no task")
		pids[p] = true
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Len(t, res.WorkerIDs, 1)
		workers[res.WorkerIDs[0]]++
	}
	require.Len(t, pids, 2, "both worker processes ran tasks: %v", workers)
	require.Len(t, workers, 2, "both workers ran tasks: %v", workers)
	require.Contains(t, workers, "worker-a")
	require.Contains(t, workers, "worker-b")
	t.Logf("runs per worker: %v", workers)

	// A run cancelled from here while it runs in a worker process.
	long, err := pid.Enqueue(ctx, b, time.Hour)
	require.NoError(t, err)
	// It runs in another process, whose events do not reach this one: ask
	// its status from the database until it is RUNNING, within ctx.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := long.Status(ctx)
		require.NoError(t, err)
		if st == localtasks.StatusRunning {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the run never started: %v", ctx.Err())
		}
	}
	require.NoError(t, long.Cancel(ctx))
	_, err = long.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
}
