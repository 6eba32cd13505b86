//go:build unix

package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
	"github.com/stretchr/testify/require"
)

// On a process pool the middleware runs in the parent, and so does Extract.
func TestPropagatorProcessPool(t *testing.T) {
	t.Parallel()
	var seen seenTraces
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2, Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{seen.middleware}}})
	checkPropagator(t, b, &seen, false)
}

// propagatingInit gives a worker localtaskstest.Propagator, so that the
// tasks it runs see what the parent's Propagator carried.
var propagatingInit = localtasks.DefineWorkerInit("test.propagator", func(context.Context) error {
	localtasks.SetWorkerPropagator(localtaskstest.Propagator{})
	return nil
})

// probeTask creates the file its argument names, if any, and returns what
// its ctx holds of a trace: whether, and with what, it ran.
var probeTask = localtasks.Define("prop.probe", func(ctx context.Context, path string) (string, error) {
	if path != "" {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			return "", err
		}
	}
	return localtaskstest.TraceOf(ctx), nil
})

// markAttempt is a middleware that adds the attempt's number to the trace
// of the ctx it passes to next, as a tracing middleware starts a span.
func markAttempt(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
	return next(localtaskstest.WithTrace(ctx, fmt.Sprintf("%s|%d", localtaskstest.TraceOf(ctx), ex.Attempt)))
}

// A worker with a propagator runs its task with the trace of the ctx the
// parent's middleware passed to next: that of its Enqueue, and what the
// middleware added, on every attempt.
func TestPropagatorIntoWorkers(t *testing.T) {
	t.Parallel()
	var seen seenTraces
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2, WorkerInit: propagatingInit, Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{seen.middleware, markAttempt}}})
	ctx := testCtx(t)
	task := propTask.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}))
	one, err := task.Enqueue(localtaskstest.WithTrace(ctx, "t-1"), b, 1)
	require.NoError(t, err)
	many, err := task.EnqueueMany(localtaskstest.WithTrace(ctx, "t-2"), b, []int{2, 3})
	require.NoError(t, err)
	bare, err := task.Enqueue(ctx, b, 4)
	require.NoError(t, err)
	for _, c := range []struct {
		h    localtasks.Handle[string]
		want string
	}{{one, "t-1"}, {many[0], "t-2"}, {many[1], "t-2"}, {bare, ""}} {
		v, err := c.h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{c.want, c.want}, seen.of(c.h.ID()))
		require.Equal(t, c.want+"|2", v, "the task's ctx in the worker descends from the one its middleware passed to next")
	}
}

// Without middleware, the run's own carrier goes with it to the worker.
func TestPropagatorIntoWorkersWithoutMiddleware(t *testing.T) {
	t.Parallel()
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: propagatingInit,
		Config: localtasks.Config{Propagator: localtaskstest.Propagator{}}})
	ctx := testCtx(t)
	h, err := probeTask.Enqueue(localtaskstest.WithTrace(ctx, "t-3"), b, "")
	require.NoError(t, err)
	v, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, "t-3", v)
}

// A worker without a propagator runs its tasks with no trace, whatever its
// parent's Config.
func TestPropagatorWorkerWithout(t *testing.T) {
	t.Parallel()
	for name, mw := range map[string][]localtasks.Middleware{"middleware": {markAttempt}, "no middleware": nil} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1,
				Config: localtasks.Config{Propagator: localtaskstest.Propagator{}, Middleware: mw}})
			ctx := testCtx(t)
			h, err := probeTask.Enqueue(localtaskstest.WithTrace(ctx, "t-4"), b, "")
			require.NoError(t, err)
			v, err := h.Wait(ctx)
			require.NoError(t, err)
			require.Empty(t, v)
		})
	}
}

// When a worker awaits the carrier, its task runs only once its middleware
// calls next, as on a thread pool: not when the middleware returns without
// calling it, before or after the run is cancelled; and the worker, which
// waited, is free at once (not killed when its cancel's grace ends).
func TestPropagatorTaskWaitsForNext(t *testing.T) {
	t.Parallel()
	entered := make(chan string, 1)
	mw := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		switch path := ex.Args.(string); {
		case strings.HasSuffix(path, "refused"):
			return errors.New("refused by the middleware")
		case strings.HasSuffix(path, "passed"):
			return next(ctx)
		}
		entered <- ex.ID
		<-ctx.Done() // cancelled by the test
		return ctx.Err()
	}
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: propagatingInit,
		Config: localtasks.Config{Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{mw}}})
	ctx := testCtx(t)
	dir := t.TempDir()

	refused := filepath.Join(dir, "refused")
	h, err := probeTask.Enqueue(ctx, b, refused)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "refused by the middleware")

	cancelled := filepath.Join(dir, "cancelled")
	h, err = probeTask.Enqueue(ctx, b, cancelled)
	require.NoError(t, err)
	require.Equal(t, h.ID(), <-entered)
	require.NoError(t, b.Cancel(ctx, h.ID()))
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	waited := workerPID(t, res)

	// The worker is free again, and runs the task once next is called.
	passed := filepath.Join(dir, "passed")
	h, err = probeTask.Enqueue(ctx, b, passed)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	require.FileExists(t, passed)
	res, err = h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, waited, workerPID(t, res), "on the worker that waited")

	for _, path := range []string{refused, cancelled} {
		_, err := os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "the task did not run: %s", path)
	}
}
