package river_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// ids lists the IDs of a snapshot's runs, in the listing's order.
func ids(snap localtasks.Snapshot) []string {
	var out []string
	for _, list := range [][]localtasks.TaskResult{snap.Scheduled, snap.Queued, snap.Running, snap.Finished} {
		for _, r := range list {
			out = append(out, r.ID)
		}
	}
	return out
}

// TestSnapshotListing lists the runs of a producer, which runs none: the
// groups in the pools' order, READY by River's start order, filters, pages
// and refused options.
func TestSnapshotListing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const side = "side"
	b, err := ltriver.New(ctx, pool, ltriver.Config{Name: "listing", Schema: newSchema(t), Queues: []string{localtasks.QueueDefault, side}})
	require.NoError(t, err)
	defer b.Close(ctx)

	echo := localtaskstest.Echo
	enqueue := func(n int, opts ...localtasks.Option) string {
		t.Helper()
		h, err := echo.Using(opts...).Enqueue(ctx, b, localtaskstest.EchoArgs{N: n})
		require.NoError(t, err)
		return h.ID()
	}
	low := enqueue(1)
	high := enqueue(2, localtasks.WithPriority(10))
	onSide := enqueue(3, localtasks.WithQueue(side))
	keyed := enqueue(4, localtasks.WithKey("k"))
	later := enqueue(5, localtasks.WithDelay(2*time.Hour))
	sooner := enqueue(6, localtasks.WithDelay(time.Hour))
	gone := enqueue(7)
	require.NoError(t, b.Cancel(ctx, gone))
	lowest := enqueue(8, localtasks.WithPriority(-100))

	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, "listing", snap.Backend)
	require.Empty(t, snap.NextCursor)
	all := []string{sooner, later, high, low, keyed, lowest, onSide, gone}
	require.Equal(t, all, ids(snap), "SCHEDULED soonest first, READY a queue at a time in River's start order, then the finished")
	require.Equal(t, localtasks.StatusCounts{Scheduled: 2, Ready: 5, Cancelled: 1}, snap.Counts)
	require.Equal(t, localtasks.StatusScheduled, snap.Scheduled[0].Status)
	require.Equal(t, localtaskstest.EchoArgs{N: 2}, snap.Queued[0].Args, "the arguments are decoded")
	require.Equal(t, "k", snap.Queued[2].Key)
	require.Equal(t, localtasks.StatusCancelled, snap.Finished[0].Status)
	require.Empty(t, snap.Workers, "a producer has no workers")
	require.Equal(t, []localtasks.QueueInfo{{Name: localtasks.QueueDefault, Ready: 4, Scheduled: 2}, {Name: side, Ready: 1}}, snap.Queues,
		"each queue's depth, the cancelled run in none")
	require.Equal(t, localtasks.Counters{Enqueued: 8, Cancelled: 1}, snap.Counters)
	require.Equal(t, snap.Counters, b.Counters())

	// Pages of two go through every run once, in the same order.
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "the listing ends")
		page, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(ids(page)), 2)
		paged = append(paged, ids(page)...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, all, paged)

	list := func(opts localtasks.SnapshotOptions) []string {
		t.Helper()
		snap, err := b.Snapshot(ctx, opts)
		require.NoError(t, err)
		return ids(snap)
	}
	require.Equal(t, []string{high, low, keyed, lowest, onSide}, list(localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusReady}}))
	require.Equal(t, []string{sooner, later, gone}, list(localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusScheduled, localtasks.StatusCancelled}}))
	require.Empty(t, list(localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusSuccessful}}))
	require.Equal(t, []string{onSide}, list(localtasks.SnapshotOptions{Queue: side}))
	require.Empty(t, list(localtasks.SnapshotOptions{Queue: "not-a-queue-of-the-backend"}))
	require.Equal(t, []string{keyed}, list(localtasks.SnapshotOptions{Key: "k"}))
	require.Empty(t, list(localtasks.SnapshotOptions{Task: localtaskstest.Block.Name()}))
	require.Len(t, list(localtasks.SnapshotOptions{Task: echo.Name()}), len(all))
	require.Empty(t, list(localtasks.SnapshotOptions{Tag: "blue"}), "River runs carry no tags")
	require.Empty(t, list(localtasks.SnapshotOptions{Metadata: map[string]string{"a": "b"}}), "nor metadata")

	for _, opts := range []localtasks.SnapshotOptions{
		{Limit: -1},
		{Limit: localtasks.SnapshotLimitMax + 1},
		{Statuses: []localtasks.Status{99}},
		{Cursor: "not a cursor"},
		{Cursor: "MS4wLjA"}, // a pool's cursor: "1.0.0"
	} {
		_, err := b.Snapshot(ctx, opts)
		require.ErrorIs(t, err, localtasks.ErrInvalidSnapshotOptions, "%+v", opts)
	}
}

// TestSnapshotWorkersAndDrain runs tasks on a backend with workers: its
// snapshot lists the running run with its worker, its counters count what
// its workers did, and Drain waits for the running run, then for nothing.
func TestSnapshotWorkersAndDrain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 2, Logger: quiet, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close(ctx)

	ok, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	retried, err := localtaskstest.Flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).
		Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "once", FailAttempts: 1})
	require.NoError(t, err)
	failed, err := localtaskstest.Flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 1})).
		Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "always", FailAttempts: 9})
	require.NoError(t, err)
	require.NoError(t, b.Drain(ctx))
	for _, id := range []string{ok.ID(), retried.ID(), failed.ID()} {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.True(t, res.Status.Finished(), "Drain returned with run %s %v", id, res.Status)
	}
	require.Equal(t, localtasks.Counters{Enqueued: 3, Started: 4, Succeeded: 2, Failed: 1, Retried: 1}, b.Counters())

	sub := b.Subscribe(16)
	defer sub.Close()
	blocked, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	for started := false; !started; {
		select {
		case ev := <-sub.C():
			started = ev.Kind == localtasks.EventStarted && ev.Result.ID == blocked.ID()
		case <-ctx.Done():
			t.Fatal("the run did not start")
		}
	}
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Len(t, snap.Running, 1)
	run := snap.Running[0]
	require.Equal(t, blocked.ID(), run.ID)
	require.Equal(t, b.Client().ID(), run.WorkerIDs[len(run.WorkerIDs)-1])
	require.Equal(t, []localtasks.WorkerInfo{{ID: b.Client().ID(), Running: []string{blocked.ID()}, TasksDone: 4}}, snap.Workers)
	require.Equal(t, []localtasks.QueueInfo{{Name: localtasks.QueueDefault, MaxWorkers: 2, Running: 1}}, snap.Queues)
	require.Equal(t, localtasks.StatusCounts{Running: 1, Successful: 2, Failed: 1}, snap.Counts)

	// Drain waits for the running run, and ends with ctx.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	err = b.Drain(short)
	stop()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "1 runs were unfinished")

	drained := make(chan error, 1)
	go func() { drained <- b.Drain(ctx) }()
	require.NoError(t, blocked.Cancel(ctx))
	require.NoError(t, <-drained)
	snap, err = b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Empty(t, snap.Running)
	require.Equal(t, uint64(1), snap.Counters.Cancelled, "counted by the time Drain returns")
	require.Equal(t, 5, snap.Workers[0].TasksDone)
	require.Empty(t, snap.Workers[0].Running)
}

// TestDrainProducer checks that a backend without workers drains the jobs
// other processes' workers run: here another backend's, on the same
// schema.
func TestDrainProducer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := newSchema(t)
	producer, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema})
	require.NoError(t, err)
	defer producer.Close(ctx)
	hs, err := localtaskstest.Echo.EnqueueMany(ctx, producer, []localtaskstest.EchoArgs{{N: 1}, {N: 2}})
	require.NoError(t, err)

	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	err = producer.Drain(short)
	stop()
	require.ErrorIs(t, err, context.DeadlineExceeded, "no worker runs them yet")
	require.ErrorContains(t, err, "2 runs were unfinished")

	worker, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer worker.Close(ctx)
	require.NoError(t, producer.Drain(ctx))
	for _, h := range hs {
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
	}
	require.Equal(t, localtasks.Counters{Enqueued: 2}, producer.Counters(), "the producer's: it ran nothing")
	require.NoError(t, worker.Drain(ctx), "waits until River told the worker of its runs' outcomes")
	require.Equal(t, localtasks.Counters{Started: 2, Succeeded: 2}, worker.Counters(), "the worker's: it enqueued nothing")
}

// TestCountersEnqueueTxAndReplace counts a run EnqueueTx inserted, even in
// a transaction rolled back, and a run a Replace cancelled.
func TestCountersEnqueueTxAndReplace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t)})
	require.NoError(t, err)
	defer b.Close(ctx)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = ltriver.EnqueueTx(ctx, b, tx, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, localtasks.Counters{Enqueued: 1}, b.Counters(), "counted once inserted, committed or not")

	later := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour))
	first, err := later.Using(localtasks.WithKey("k")).Enqueue(ctx, b, localtaskstest.EchoArgs{N: 2})
	require.NoError(t, err)
	second, err := later.Replace(ctx, b, "k", localtaskstest.EchoArgs{N: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.Replaced, second.Disposition())
	require.Equal(t, localtasks.Counters{Enqueued: 3, Cancelled: 1}, b.Counters(), "the replaced run was cancelled here")
	res, err := first.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
}
