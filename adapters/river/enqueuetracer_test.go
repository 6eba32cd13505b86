package river_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A Propagator that is an EnqueueTracer is told of each Enqueue,
// EnqueueMany and EnqueueTx, and the jobs carry the trace its StartEnqueue
// made, to the attempts in another backend.
func TestEnqueueTracer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	tracer := &localtaskstest.EnqueueTracer{}
	enqueuer := newBackend(t, ctx, schema, ltriver.Config{Name: "web", Propagator: tracer})
	var (
		mu   sync.Mutex
		seen = map[string]string{}
	)
	mw := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		mu.Lock()
		seen[ex.ID] = localtaskstest.TraceOf(ctx)
		mu.Unlock()
		return next(ctx)
	}
	newBackend(t, ctx, schema, ltriver.Config{Name: "workers", Workers: 2, Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{mw}})

	one, err := localtaskstest.Info.Enqueue(localtaskstest.WithTrace(ctx, "t-1"), enqueuer, struct{}{})
	require.NoError(t, err)
	many, err := localtaskstest.Info.EnqueueMany(ctx, enqueuer, []struct{}{{}, {}})
	require.NoError(t, err)
	var inTx localtasks.Handle[localtaskstest.InfoResult]
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		inTx, err = ltriver.EnqueueTx(localtaskstest.WithTrace(ctx, "t-tx"), enqueuer, tx, localtaskstest.Info, struct{}{})
		return err
	}))
	for h, want := range map[localtasks.Handle[localtaskstest.InfoResult]]string{
		one: "enqueue(t-1)", many[0]: "enqueue()", many[1]: "enqueue()", inTx: "enqueue(t-tx)"} {
		_, err := h.Wait(ctx)
		require.NoError(t, err)
		mu.Lock()
		require.Equal(t, want, seen[h.ID()], "the attempt has its enqueue's trace")
		mu.Unlock()
	}
	ends := tracer.Ends()
	require.Len(t, ends, 3)
	info := localtasks.EnqueueInfo{Backend: "web", Task: localtaskstest.Info.Name(), Queue: localtasks.QueueDefault, Runs: 1}
	require.Equal(t, localtaskstest.EnqueueEnd{Info: info, IDs: []string{one.ID()}}, ends[0])
	info.Runs = 2
	require.Equal(t, localtaskstest.EnqueueEnd{Info: info, IDs: []string{many[0].ID(), many[1].ID()}}, ends[1])
	info.Runs = 1
	require.Equal(t, localtaskstest.EnqueueEnd{Info: info, IDs: []string{inTx.ID()}}, ends[2])
}
