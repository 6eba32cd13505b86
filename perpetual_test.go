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

const heartbeatQueue = "test.heartbeat"

var (
	// nightly is perpetual, every hour, but asks for its next run at
	// 02:00 the next day, and stops once it ran at Stop.
	nightly = localtasks.Define("test.nightly", func(ctx context.Context, a nightlyArgs) (time.Time, error) {
		next := a.Now.Add(24 * time.Hour).Truncate(24 * time.Hour).Add(2 * time.Hour)
		if err := localtasks.SetNextRun(ctx, next); err != nil {
			return time.Time{}, err
		}
		if err := localtasks.SetNextArgs(ctx, nightlyArgs{Now: next}); err != nil {
			return time.Time{}, err
		}
		return a.Now, nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))

	// wrongNext asks for a next argument of the wrong type.
	wrongNext = localtasks.Define("test.wrong-next", func(ctx context.Context, _ int) (string, error) {
		err := localtasks.SetNextArgs(ctx, "not an int")
		if err == nil {
			return "", errors.New("SetNextArgs took a string for an int task")
		}
		return err.Error(), localtasks.StopPerpetual(ctx)
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))

	// heartbeat starts with every backend that has heartbeatQueue, and
	// runs every millisecond.
	heartbeat = localtasks.Define("test.heartbeat", func(ctx context.Context, _ struct{}) (int, error) {
		return localtasks.Attempt(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Millisecond, Automatic: true}), localtasks.WithQueue(heartbeatQueue))

	// notPerpetual calls StopPerpetual, which only perpetual tasks may.
	notPerpetual = localtasks.Define("test.not-perpetual", func(ctx context.Context, _ struct{}) (string, error) {
		return "", localtasks.StopPerpetual(ctx)
	})
)

type nightlyArgs struct{ Now time.Time }

func TestPerpetualSetNextRunAndArgs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start := time.Date(2030, 3, 1, 2, 0, 0, 0, time.UTC)
	clock := localtaskstest.NewFakeClock(start)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	sub := b.Subscribe(64)
	defer sub.Close()
	first, err := nightly.Enqueue(ctx, b, nightlyArgs{Now: start})
	require.NoError(t, err)
	v, err := first.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, start, v)

	next := nextEnqueued(t, sub, first.ID())
	want := start.Add(24 * time.Hour)
	require.Equal(t, want, next.RunAfter, "SetNextRun overrides the interval")
	require.Equal(t, nightlyArgs{Now: want}, next.Args, "SetNextArgs sets the next argument")
	require.NoError(t, b.Cancel(ctx, next.ID), "cancelling a run ends the chain")
	require.NoError(t, b.Drain(ctx))
	require.Equal(t, uint64(1), b.Counters().Perpetuated)
}

func TestPerpetualControlsRefuseBadUse(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	require.ErrorIs(t, localtasks.StopPerpetual(ctx), localtasks.ErrInvalidTask, "outside a task")
	require.ErrorIs(t, localtasks.SetNextRun(ctx, time.Now()), localtasks.ErrInvalidTask)
	require.ErrorIs(t, localtasks.SetNextArgs(ctx, 1), localtasks.ErrInvalidTask)

	b := newPool(t, localtasks.ThreadPoolConfig{})
	hd, err := wrongNext.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	msg, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Contains(t, msg, "takes arguments of type int")
	require.NoError(t, b.Drain(ctx), "StopPerpetual ended the chain")

	hd2, err := notPerpetual.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = hd2.Wait(ctx)
	require.ErrorContains(t, err, "not perpetual")
}

// An automatic perpetual task starts with a backend whose queues hold its
// queue, once per backend state, and Config.Test.RunAtMost ends its chain.
func TestAutomaticPerpetualRunAtMost(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.Config{Name: "test.automatic", Queues: []string{localtasks.QueueDefault, heartbeatQueue},
		Test: localtasks.TestConfig{RunAtMost: map[string]int{heartbeat.Name(): 5}}}
	b1 := newPool(t, localtasks.ThreadPoolConfig{Config: cfg})
	b2 := newPool(t, localtasks.ThreadPoolConfig{Config: cfg})
	require.NoError(t, b1.Drain(ctx))
	c := b2.Counters()
	require.Equal(t, uint64(5), c.Succeeded, "one chain for the two backends of one state, five runs")
	require.Equal(t, uint64(4), c.Perpetuated)
	require.Equal(t, uint64(1), c.Enqueued)

	plain := newPool(t, localtasks.ThreadPoolConfig{})
	require.Zero(t, plain.Counters().Enqueued, "a backend without the task's queue does not start it")

	other := cfg
	other.Test.RunAtMost = map[string]int{heartbeat.Name(): 6}
	_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: other})
	require.ErrorIs(t, err, localtasks.ErrConfig, "a different RunAtMost under one name")
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{RunAtMost: map[string]int{"x": 0}}}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
}

// nextEnqueued returns the next run enqueued other than the one with ID id.
func nextEnqueued(t *testing.T, sub *localtasks.Subscription, id string) localtasks.TaskResult {
	t.Helper()
	for ev := range sub.C() {
		if ev.Kind == localtasks.EventEnqueued && ev.Result.ID != id {
			return ev.Result
		}
	}
	t.Fatal("the subscription closed before another run was enqueued")
	return localtasks.TaskResult{}
}
