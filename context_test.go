package localtasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// causes reports what a task sees of its cancellation: on its own ctx, and
// on a ctx derived from it with context.WithCancel, which must be cancelled
// with it.
var causes = localtasks.Define("test.causes", func(ctx context.Context, a causesArgs) ([]error, error) {
	child, stop := context.WithCancel(ctx)
	defer stop()
	close(a.started)
	<-child.Done()
	seen := []error{ctx.Err(), localtasks.Cause(ctx), child.Err(), localtasks.Cause(child)}
	a.seen <- seen
	return seen, nil
})

type causesArgs struct {
	started chan struct{}
	seen    chan []error
}

func TestCause(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	a := causesArgs{started: make(chan struct{}), seen: make(chan []error, 1)}
	h, err := causes.Enqueue(ctx, b, a)
	require.NoError(t, err)
	<-a.started
	require.NoError(t, h.Cancel(ctx))
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	seen := <-a.seen
	require.ErrorIs(t, seen[0], context.Canceled)
	require.ErrorIs(t, seen[1], localtasks.ErrCancelled, "Cause tells Cancel from other cancellations")
	require.ErrorIs(t, seen[2], context.Canceled)
	require.ErrorIs(t, seen[3], localtasks.ErrCancelled)

	// A cancelled run keeps no value, so see the causes through a timeout:
	// a task that returns after its timeout keeps its value.
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b2 := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1})
	a = causesArgs{started: make(chan struct{}), seen: make(chan []error, 1)}
	h, err = causes.Using(localtasks.WithTimeout(time.Second)).Enqueue(ctx, b2, a)
	require.NoError(t, err)
	<-a.started
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Second)
	got, err := h.Wait(ctx)
	require.NoError(t, err, "a task that returns a value after its timeout succeeds")
	require.ErrorIs(t, got[0], context.DeadlineExceeded, "ctx.Err() of a timed-out attempt")
	require.ErrorIs(t, got[1], localtasks.ErrTimeout, "Cause of a timed-out attempt")
	require.ErrorIs(t, got[2], context.DeadlineExceeded, "the derived ctx was cancelled with its parent, as context does")
	require.ErrorIs(t, got[3], localtasks.ErrTimeout, "Cause sees through a derived ctx")
}

func TestCauseOutsideTask(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	boom := errors.New("boom")
	cancel(boom)
	require.Equal(t, boom, localtasks.Cause(ctx), "outside a task, Cause is context.Cause")
	require.NoError(t, localtasks.Cause(context.Background()))
}

// detached checks that a goroutine started from a task with a derived ctx
// ends when the attempt does: the attempt's ctx is cancelled as it returns.
var detached = localtasks.Define("test.detached", func(ctx context.Context, done chan error) (struct{}, error) {
	child, stop := context.WithTimeout(ctx, time.Hour)
	go func() {
		defer stop()
		<-child.Done()
		done <- child.Err()
	}()
	return struct{}{}, nil
})

func TestAttemptCtxEndsWithAttempt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	done := make(chan error, 1)
	h, err := detached.Enqueue(ctx, b, done)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, <-done, context.Canceled, "a ctx derived from the attempt's ends when the attempt does")
}

func TestZeroHandle(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var h localtasks.Handle[int]
	_, err := h.Status(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	_, err = h.Result(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	require.ErrorIs(t, h.Cancel(ctx), localtasks.ErrResultNotFound)
}

// sliceClock is a Clock of a type that == cannot compare.
type sliceClock struct {
	localtaskstest.FakeClock
	_ []int
}

func TestNamedStateWithIncomparableClock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.Config{Name: "test.incomparable", Test: localtasks.TestConfig{Clock: &sliceClock{}}}
	// Pointers compare fine; values of a non-comparable type must not panic.
	a, err := localtasks.NewImmediate(cfg)
	require.NoError(t, err)
	defer a.Close(ctx)
	b, err := localtasks.NewImmediate(cfg)
	require.NoError(t, err, "the same Clock pointer")
	defer b.Close(ctx)
	_, err = localtasks.NewImmediate(localtasks.Config{Name: cfg.Name, Test: localtasks.TestConfig{Clock: &sliceClock{}}})
	require.ErrorIs(t, err, localtasks.ErrConfig, "another Clock")

	val := localtasks.Config{Name: "test.incomparable.value", Test: localtasks.TestConfig{Clock: valueClock{}}}
	c, err := localtasks.NewImmediate(val)
	require.NoError(t, err)
	defer c.Close(ctx)
	require.NotPanics(t, func() {
		_, err = localtasks.NewImmediate(val)
	})
	require.ErrorIs(t, err, localtasks.ErrConfig, "a non-comparable Clock value cannot be shown to be the same")
}

type valueClock struct{ _ []int }

func (valueClock) Now() time.Time { return time.Unix(0, 0) }
func (valueClock) AfterFunc(d time.Duration, f func()) localtasks.Timer {
	return time.AfterFunc(d, f)
}

func TestSubscribeDefaultBufferAndAfterClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	require.NoError(t, err)
	sub := b.Subscribe(0)
	require.NoError(t, b.Close(ctx))
	_, open := <-sub.C()
	require.False(t, open, "Close closes subscriptions")
	late := b.Subscribe(8)
	_, open = <-late.C()
	require.False(t, open, "a subscription to a closed backend is closed at once")
	late.Close()
	sub.Close()
}
