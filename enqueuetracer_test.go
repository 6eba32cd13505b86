package localtasks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A Propagator that is an EnqueueTracer is told of each Enqueue and
// EnqueueMany, the refused ones too; the carrier the runs keep is made
// from the ctx its StartEnqueue returned.
func TestEnqueueTracer(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	tracer := &localtaskstest.EnqueueTracer{}
	seen := &seenTraces{}
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: t.Name(), Queues: []string{"q"},
		Propagator: tracer, Middleware: []localtasks.Middleware{seen.middleware}}})

	task := propTask.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}), localtasks.WithQueue("q"))
	one, err := task.Enqueue(localtaskstest.WithTrace(ctx, "t-1"), b, 1)
	require.NoError(t, err)
	many, err := task.EnqueueMany(ctx, b, []int{2, 3})
	require.NoError(t, err)
	_, err = propTask.Enqueue(ctx, b, 4) // the default queue, which b has not
	require.Error(t, err)
	_, err = task.EnqueueMany(ctx, b, nil)
	require.NoError(t, err)

	for _, c := range []struct {
		h    localtasks.Handle[string]
		want string
	}{{one, "enqueue(t-1)"}, {many[0], "enqueue()"}, {many[1], "enqueue()"}} {
		got, err := c.h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "the task's ctx has its enqueue's trace")
		require.Equal(t, []string{c.want, c.want}, seen.of(c.h.ID()), "and each attempt's middleware")
	}
	ends := tracer.Ends()
	require.Len(t, ends, 3, "an empty batch is not traced")
	require.Equal(t, localtaskstest.EnqueueEnd{Info: localtasks.EnqueueInfo{Backend: t.Name(), Task: propTask.Name(), Queue: "q", Runs: 1},
		IDs: []string{one.ID()}}, ends[0])
	require.Equal(t, localtaskstest.EnqueueEnd{Info: localtasks.EnqueueInfo{Backend: t.Name(), Task: propTask.Name(), Queue: "q", Runs: 2},
		IDs: []string{many[0].ID(), many[1].ID()}}, ends[1])
	require.Equal(t, localtasks.EnqueueInfo{Backend: t.Name(), Task: propTask.Name(), Queue: localtasks.QueueDefault, Runs: 1}, ends[2].Info)
	require.Nil(t, ends[2].IDs)
	require.ErrorIs(t, ends[2].Err, localtasks.ErrInvalidTask)
}
