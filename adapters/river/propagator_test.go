package river_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// TestPropagatorAcrossBackends: the trace of an Enqueue on one backend,
// which runs nothing, reaches through the job's metadata the middleware of
// every attempt on another, as it would in another process.
func TestPropagatorAcrossBackends(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
	)
	mw := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		v := localtaskstest.TraceOf(ctx)
		mu.Lock()
		seen[ex.ID] = append(seen[ex.ID], v)
		mu.Unlock()
		err := next(ctx)
		if ex.Attempt == 1 {
			return errors.New("first attempts fail")
		}
		return err
	}
	enqueuer := newBackend(t, ctx, schema, ltriver.Config{Name: "web", Propagator: localtaskstest.Propagator{}})
	newBackend(t, ctx, schema, ltriver.Config{Name: "workers", Workers: 2, Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{mw}})

	task := localtaskstest.Echo.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}))
	one, err := task.Enqueue(localtaskstest.WithTrace(ctx, "t-1"), enqueuer, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	many, err := task.EnqueueMany(localtaskstest.WithTrace(ctx, "t-2"), enqueuer, []localtaskstest.EchoArgs{{N: 2}, {N: 3}})
	require.NoError(t, err)
	bare, err := task.Enqueue(ctx, enqueuer, localtaskstest.EchoArgs{N: 4})
	require.NoError(t, err)
	for _, c := range []struct {
		h    localtasks.Handle[localtaskstest.EchoArgs]
		want string
	}{{one, "t-1"}, {many[0], "t-2"}, {many[1], "t-2"}, {bare, ""}} {
		_, err := c.h.Wait(ctx)
		require.NoError(t, err)
		mu.Lock()
		got := seen[c.h.ID()]
		mu.Unlock()
		require.Equal(t, []string{c.want, c.want}, got, "each attempt's middleware sees its Enqueue's trace")
	}
}
