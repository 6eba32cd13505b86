package localtasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// queueFull builds a pool of one worker, held by a gate, with MaxQueued
// max and max runs queued behind it: a full queue. It returns the pool and
// what releases the gate.
func queueFull(t *testing.T, max int) (*localtasks.ThreadPoolBackend, chan struct{}) {
	t.Helper()
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{MaxQueued: max}})
	release := occupy(t, b, 1)
	for i := range max {
		_, err := benchNoop.Enqueue(testCtx(t), b, i)
		require.NoError(t, err)
	}
	return b, release
}

func queuedRuns(t *testing.T, b localtasks.Snapshotter) int {
	t.Helper()
	snap, err := b.Snapshot(testCtx(t), localtasks.SnapshotOptions{})
	require.NoError(t, err)
	return snap.Counts.Ready + snap.Counts.Scheduled
}

// Over MaxQueued, Enqueue fails at once, says what to do, and queues
// nothing; delayed runs count as queued runs do.
func TestMaxQueuedRefuses(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, release := queueFull(t, 2)
	for _, task := range []*localtasks.Task[int, int]{benchNoop, benchNoop.Using(localtasks.WithDelay(time.Hour))} {
		_, err := task.Enqueue(ctx, b, 99)
		require.ErrorIs(t, err, localtasks.ErrQueueFull)
		require.ErrorContains(t, err, "has 2 runs queued, and its MaxQueued is 2")
		require.ErrorContains(t, err, "WithWaitForRoom")
	}
	require.Equal(t, 2, queuedRuns(t, b), "nothing more was queued")
	require.EqualValues(t, 2, b.Counters().QueueFull)
	require.EqualValues(t, 3, b.Counters().Enqueued, "the gate's run and the two queued")

	close(release)
	require.NoError(t, b.Drain(ctx))
	h, err := benchNoop.Enqueue(ctx, b, 7)
	require.NoError(t, err, "room again once the queue drained")
	v, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
}

// WithWaitForRoom waits until a queued run leaves the queue, then queues.
func TestMaxQueuedWaitForRoom(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, release := queueFull(t, 2)
	waiting := localtasks.RoomWaitForTest(b)
	type result struct {
		h   localtasks.Handle[int]
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := benchNoop.Using(localtasks.WithWaitForRoom()).Enqueue(ctx, b, 42)
		done <- result{h, err}
	}()
	<-waiting
	select {
	case r := <-done:
		t.Fatalf("Enqueue returned while the queue was full: %v", r.err)
	default:
	}
	require.Equal(t, 2, queuedRuns(t, b))

	close(release) // the gate's run ends; a queued run starts: room
	r := <-done
	require.NoError(t, r.err)
	v, err := r.h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 42, v)
	require.Zero(t, b.Counters().QueueFull)
}

// A wait for room ends with the caller's ctx, or with Close, queueing
// nothing.
func TestMaxQueuedWaitEnds(t *testing.T) {
	t.Parallel()
	t.Run("ctx", func(t *testing.T) {
		t.Parallel()
		b, release := queueFull(t, 1)
		defer close(release)
		waiting := localtasks.RoomWaitForTest(b)
		ctx, cancel := context.WithCancel(testCtx(t))
		errc := make(chan error, 1)
		go func() {
			_, err := benchNoop.Using(localtasks.WithWaitForRoom()).Enqueue(ctx, b, 1)
			errc <- err
		}()
		<-waiting
		cancel()
		err := <-errc
		require.ErrorIs(t, err, localtasks.ErrQueueFull)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, queuedRuns(t, b))
		require.EqualValues(t, 1, b.Counters().QueueFull)
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b, release := queueFull(t, 1)
		waiting := localtasks.RoomWaitForTest(b)
		errc := make(chan error, 1)
		go func() {
			_, err := benchNoop.Using(localtasks.WithWaitForRoom()).Enqueue(ctx, b, 1)
			errc <- err
		}()
		<-waiting
		closed := make(chan error, 1)
		go func() { closed <- b.Close(ctx) }()
		require.ErrorIs(t, <-errc, localtasks.ErrClosed)
		close(release)
		require.NoError(t, <-closed)
	})
}

// A request that would queue nothing is not refused for a full queue: a
// key already held, or a strike.
func TestMaxQueuedKeysAndStrikes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{MaxQueued: 1}})
	release := occupy(t, b, 1)
	defer close(release)
	keyed := benchNoop.Using(localtasks.WithKey("k"))
	first, err := keyed.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	again, err := keyed.Enqueue(ctx, b, 2)
	require.NoError(t, err, "the key is held: nothing would be queued")
	require.Equal(t, localtasks.AlreadyEnqueued, again.Disposition())
	require.Equal(t, first.ID(), again.ID())

	_, err = benchNoop.Enqueue(ctx, b, 3)
	require.ErrorIs(t, err, localtasks.ErrQueueFull)
}

func TestMaxQueuedConfig(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{MaxQueued: -1}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "MaxQueued -1 is negative")
	_, err = localtasks.NewImmediate(localtasks.Config{MaxQueued: 5})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "queues nothing")

	name := t.Name()
	a := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: name, MaxQueued: 5}})
	require.NotNil(t, a)
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: name, MaxQueued: 6}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "MaxQueued 5")
}
