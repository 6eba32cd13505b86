package localtasks_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// propTask returns what its ctx holds under localtaskstest.TraceOf.
var propTask = localtasks.Define("prop.trace", func(ctx context.Context, _ int) (string, error) {
	v := localtaskstest.TraceOf(ctx)
	return v, nil
})

// seenTraces is a middleware that records, by run ID, what each attempt's
// ctx holds (localtaskstest.TraceOf), and fails every first attempt so that the run
// retries.
type seenTraces struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (s *seenTraces) middleware(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
	v := localtaskstest.TraceOf(ctx)
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string][]string{}
	}
	s.seen[ex.ID] = append(s.seen[ex.ID], v)
	s.mu.Unlock()
	err := next(ctx)
	if ex.Attempt == 1 {
		return errors.New("first attempts fail")
	}
	return err
}

func (s *seenTraces) of(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

// checkPropagator enqueues runs of propTask on b, alone and in a batch,
// with and without a trace in the ctx, and checks that every attempt's
// middleware saw the trace of its Enqueue, and the task too if local.
func checkPropagator(t *testing.T, b localtasks.Backend, seen *seenTraces, local bool) {
	ctx := testCtx(t)
	task := propTask.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}))
	traced := localtaskstest.WithTrace(ctx, "t-1")
	one, err := task.Enqueue(traced, b, 1)
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
		require.Equal(t, []string{c.want, c.want}, seen.of(c.h.ID()), "each attempt's middleware sees its Enqueue's trace")
		if local {
			require.Equal(t, c.want, v, "the task's ctx holds its Enqueue's trace")
		}
	}
}

func TestPropagatorThreadPool(t *testing.T) {
	t.Parallel()
	var seen seenTraces
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2, Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{seen.middleware}}})
	checkPropagator(t, b, &seen, true)
}

func TestPropagatorWithoutMiddleware(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Propagator: localtaskstest.Propagator{}}})
	h, err := propTask.Enqueue(localtaskstest.WithTrace(ctx, "t-3"), b, 1)
	require.NoError(t, err)
	v, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, "t-3", v, "the task's ctx holds its Enqueue's trace with no middleware")
}

// panicPropagator panics in Extract.
type panicPropagator struct{ localtaskstest.Propagator }

func (panicPropagator) Extract(context.Context, map[string]string) context.Context {
	panic("no extract")
}

// A panic in Extract fails the attempt, as one in a middleware does.
func TestPropagatorExtractPanics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Propagator: panicPropagator{}}})
	h, err := propTask.Enqueue(localtaskstest.WithTrace(ctx, "t-4"), b, 1)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "no extract")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
}

// Backends of one Name must agree on their Propagator.
func TestPropagatorSharedState(t *testing.T) {
	t.Parallel()
	name := t.Name()
	newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: name, Propagator: localtaskstest.Propagator{}}})
	newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: name, Propagator: localtaskstest.Propagator{}}})
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: name}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "another Propagator")
	require.Nil(t, b)
}
