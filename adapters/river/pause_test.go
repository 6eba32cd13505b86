package river_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// sideQueue is a second queue. River's names are letters, digits,
// underscores and hyphens.
const sideQueue = "side"

// awaitQueueEvent waits for River's event of kind about queue from sub.
func awaitQueueEvent(t *testing.T, ctx context.Context, sub <-chan *river.Event, kind river.EventKind, queue string) {
	t.Helper()
	for {
		select {
		case ev := <-sub:
			if ev.Kind == kind && ev.Queue != nil && ev.Queue.Name == queue {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s event for queue %q: %v", kind, queue, ctx.Err())
		}
	}
}

// TestPauseQueue: a queue paused through one Backend holds its runs in
// the workers of another on the same schema, which lists it as paused, and
// lets them go when resumed through the first.
func TestPauseQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	queues := []string{localtasks.QueueDefault, sideQueue}
	admin := newBackend(t, ctx, schema, ltriver.Config{Name: "admin", Queues: queues})
	// The queue is paused before any worker has worked it: the workers
	// start paused.
	require.NoError(t, admin.Pause(ctx, localtasks.Pause{Queue: sideQueue}))
	require.NoError(t, admin.Pause(ctx, localtasks.Pause{Queue: sideQueue}), "pausing twice is pausing once")
	workers := newBackend(t, ctx, schema, ltriver.Config{Name: "workers", Queues: queues, Workers: 2})
	require.Equal(t, []localtasks.Pause{{Queue: sideQueue}}, workers.Pauses())
	q, err := workers.Client().QueueGet(ctx, sideQueue)
	require.NoError(t, err)
	require.NotNil(t, q.PausedAt, "River's own pause")

	held, err := localtaskstest.Echo.Using(localtasks.WithQueue(sideQueue)).Enqueue(ctx, admin, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	other, err := localtaskstest.Echo.Enqueue(ctx, admin, localtaskstest.EchoArgs{N: 2})
	require.NoError(t, err)
	_, err = other.Wait(ctx)
	require.NoError(t, err, "the default queue runs")
	st, err := held.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st, "a paused run stays READY")

	events, stop := workers.Client().Subscribe(river.EventKindQueueResumed, river.EventKindQueuePaused)
	defer stop()
	require.NoError(t, admin.Resume(ctx, localtasks.Pause{Queue: sideQueue}))
	require.NoError(t, admin.Resume(ctx, localtasks.Pause{Queue: sideQueue}), "resuming twice is resuming once")
	require.Empty(t, workers.Pauses())
	v, err := held.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v.N)
	awaitQueueEvent(t, ctx, events, river.EventKindQueueResumed, sideQueue)

	// Paused while its workers run: they hear of it by notification.
	require.NoError(t, admin.Pause(ctx, localtasks.Pause{Queue: sideQueue}))
	awaitQueueEvent(t, ctx, events, river.EventKindQueuePaused, sideQueue)
	again, err := localtaskstest.Echo.Using(localtasks.WithQueue(sideQueue)).Enqueue(ctx, workers, localtaskstest.EchoArgs{N: 3})
	require.NoError(t, err)
	other, err = localtaskstest.Echo.Enqueue(ctx, workers, localtaskstest.EchoArgs{N: 4})
	require.NoError(t, err)
	_, err = other.Wait(ctx)
	require.NoError(t, err)
	st, err = again.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st)
	require.NoError(t, workers.Resume(ctx, localtasks.Pause{Queue: sideQueue}))
	_, err = again.Wait(ctx)
	require.NoError(t, err)
}

// TestPauseWaitsForItsWorkers: a Pause through a Backend with workers
// returns once they have heard of it, so that a run of the queue enqueued
// right after stays READY while another queue's run, enqueued after it,
// finishes; were Pause to return at its commit, the workers could fetch
// it before they heard (it did, on the fake clock of localtaskstest's
// suite, often in the first round). Several rounds, as the race would be
// lost now and then.
func TestPauseWaitsForItsWorkers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newBackend(t, ctx, newSchema(t), ltriver.Config{Queues: []string{localtasks.QueueDefault, sideQueue}, Workers: 2,
		Clock: localtaskstest.NewFakeClock(localtaskstest.Epoch)})
	for round := range 8 {
		require.NoError(t, b.Pause(ctx, localtasks.Pause{Queue: sideQueue}))
		held, err := localtaskstest.Echo.Using(localtasks.WithQueue(sideQueue)).Enqueue(ctx, b, localtaskstest.EchoArgs{N: round})
		require.NoError(t, err)
		other, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: -round})
		require.NoError(t, err)
		_, err = other.Wait(ctx)
		require.NoError(t, err)
		st, err := held.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusReady, st, "round %d", round)
		require.NoError(t, b.Resume(ctx, localtasks.Pause{Queue: sideQueue}))
		_, err = held.Wait(ctx)
		require.NoError(t, err)
	}
}

// TestPauseRefused: a pause names one queue of the backend's, or a
// defined task, which River cannot pause.
func TestPauseRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newBackend(t, ctx, newSchema(t), ltriver.Config{})
	for _, p := range []localtasks.Pause{{}, {Queue: localtasks.QueueDefault, Task: localtaskstest.Echo.Name()}, {Queue: "no such queue"}, {Task: "no such task"}} {
		require.ErrorIs(t, b.Pause(ctx, p), localtasks.ErrInvalidTask, "%+v", p)
		require.ErrorIs(t, b.Resume(ctx, p), localtasks.ErrInvalidTask, "%+v", p)
	}
	err := b.Pause(ctx, localtasks.Pause{Task: localtaskstest.Echo.Name()})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorContains(t, err, "queue of its own")
	require.ErrorIs(t, b.Resume(ctx, localtasks.Pause{Task: localtaskstest.Echo.Name()}), errors.ErrUnsupported)
	require.Empty(t, b.Pauses())
}
