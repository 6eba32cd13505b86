//go:build unix

package localtasks

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Tasks of the internal tests, at package level so the workers know them.
var (
	internalBlock = Define("internal.block", func(ctx context.Context, _ struct{}) (struct{}, error) {
		<-ctx.Done()
		return struct{}{}, ctx.Err()
	})
	internalPID = Define("internal.pid", func(ctx context.Context, _ struct{}) (int, error) {
		return os.Getpid(), nil
	})
)

// newSignalledPool starts a pool of one worker with a window of 2, closed
// at the end of the test, and a channel that receives the ID of each run
// sent to the worker.
func newSignalledPool(t *testing.T, ctx context.Context) (*ProcessPoolBackend, <-chan string) {
	t.Helper()
	b, err := NewProcessPool(ProcessPoolConfig{MaxWorkers: 1, Window: 2, Config: Config{Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close(context.Background()) })
	dispatched := make(chan string, 16)
	b.s.mu.Lock()
	b.s.testDispatched = func(rec *record) { dispatched <- rec.id }
	b.s.mu.Unlock()
	return b, dispatched
}

// A task sent to a worker that dies before starting it goes back to the
// queue and runs, once, on another worker.
func TestProcessPoolRequeuesUnstartedTasks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, dispatched := newSignalledPool(t, ctx)
	sub := b.Subscribe(64)
	defer sub.Close()

	x, err := internalBlock.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	y, err := internalPID.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	for _, id := range []string{x.ID(), y.ID()} {
		select {
		case got := <-dispatched:
			require.Equal(t, id, got, "dispatched in order to the one worker")
		case <-ctx.Done():
			t.Fatal("not dispatched")
		}
	}
	var started TaskResult
	for started.ID != x.ID() {
		select {
		case ev := <-sub.C():
			if ev.Kind == EventStarted {
				started = ev.Result
			}
		case <-ctx.Done():
			t.Fatal("x did not start")
		}
	}
	st, err := y.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, StatusReady, st, "y waits in the worker's window, not started")

	m := regexp.MustCompile(`pid-(\d+)$`).FindStringSubmatch(started.WorkerIDs[0])
	require.NotNil(t, m)
	pid, _ := strconv.Atoi(m[1])
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	_, err = x.Wait(ctx)
	var exit *WorkerExitError
	require.True(t, errors.As(err, &exit), "x dies with its worker: %v", err)
	ypid, err := y.Wait(ctx)
	require.NoError(t, err, "y ran on the replacement worker")
	require.NotEqual(t, pid, ypid)
	res, err := y.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Attempts, "the dead worker never started y")
	require.Len(t, res.WorkerIDs, 1)
}

var internalMark = Define("internal.mark", func(ctx context.Context, path string) (struct{}, error) {
	return struct{}{}, os.WriteFile(path, []byte("ran"), 0o600)
})

// A task cancelled while it waits in a worker's window never runs there.
func TestProcessPoolCancelInWindowNeverRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, dispatched := newSignalledPool(t, ctx)

	blocker, err := internalBlock.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	marker := t.TempDir() + "/marker"
	victim, err := internalMark.Enqueue(ctx, b, marker)
	require.NoError(t, err)
	for range 2 {
		select {
		case <-dispatched:
		case <-ctx.Done():
			t.Fatal("not dispatched")
		}
	}
	require.NoError(t, victim.Cancel(ctx))
	require.NoError(t, blocker.Cancel(ctx))
	// A task after them, on the same worker: once it is done, the worker
	// has dealt with the victim.
	after, err := internalPID.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = after.Wait(ctx)
	require.NoError(t, err)
	_, err = os.Stat(marker)
	require.ErrorIs(t, err, os.ErrNotExist, "the cancelled task ran in the worker")
	res, err := victim.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, StatusCancelled, res.Status)
}
