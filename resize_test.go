package localtasks_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// load counts the runs of tracked inside their task, now and at most.
type load struct{ now, most atomic.Int32 }

func (l *load) enter() {
	n := l.now.Add(1)
	for m := l.most.Load(); n > m && !l.most.CompareAndSwap(m, n); m = l.most.Load() {
	}
}

func (l *load) leave() { l.now.Add(-1) }

type trackArgs struct {
	load    *load
	started chan<- string   // receives the run's ID once it runs; nil for none
	release <-chan struct{} // the run returns once it is closed; nil for at once
}

// tracked counts itself in its load while it runs, says it started, and
// waits for its release: never for its ctx, so that a shrink that
// cancelled it would show as a run that did not succeed.
var tracked = localtasks.Define("test.resize.tracked", func(ctx context.Context, a trackArgs) (string, error) {
	a.load.enter()
	defer a.load.leave()
	if a.started != nil {
		a.started <- localtasks.TaskID(ctx)
	}
	if a.release != nil {
		<-a.release
	}
	return localtasks.TaskID(ctx), nil
})

// receive waits for a value on c, or fails the test when ctx ends first.
func receive[T any](t *testing.T, ctx context.Context, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
		panic("unreachable")
	}
}

// enqueueTracked enqueues n runs of tracked with a, and returns them.
func enqueueTracked(t *testing.T, ctx context.Context, b localtasks.Backend, n int, a trackArgs) []localtasks.Handle[string] {
	t.Helper()
	hs := make([]localtasks.Handle[string], n)
	for i := range hs {
		h, err := tracked.Enqueue(ctx, b, a)
		require.NoError(t, err)
		hs[i] = h
	}
	return hs
}

// requireSucceeded waits for each run of hs, which must have succeeded at
// its first attempt, and returns the worker each ran on.
func requireSucceeded(t *testing.T, ctx context.Context, hs []localtasks.Handle[string]) []string {
	t.Helper()
	var workers []string
	for i, h := range hs {
		_, err := h.Wait(ctx)
		require.NoError(t, err, "run %d", i)
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status, "run %d", i)
		require.Equal(t, 1, res.Attempts, "run %d ran once", i)
		workers = append(workers, res.WorkerIDs[len(res.WorkerIDs)-1])
	}
	return workers
}

func workerIDs(t *testing.T, b localtasks.Snapshotter) []string {
	t.Helper()
	var ids []string
	for _, w := range snapshotOf(t, b).Workers {
		ids = append(ids, w.ID)
	}
	return ids
}

// Growing lets the runs that waited for a worker start at once.
func TestThreadPoolSetMaxWorkersGrowStartsWaitingRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	var l load
	started, release := make(chan string, 3), make(chan struct{})
	hs := enqueueTracked(t, ctx, b, 3, trackArgs{load: &l, started: started, release: release})
	receive(t, ctx, started, "the first run")

	require.NoError(t, b.SetMaxWorkers(3))
	require.Equal(t, 3, b.MaxWorkers())
	receive(t, ctx, started, "a second run")
	receive(t, ctx, started, "a third run")
	require.EqualValues(t, 3, l.now.Load(), "all three run at once")
	require.Equal(t, []string{"threadpool:private/0", "threadpool:private/1", "threadpool:private/2"}, workerIDs(t, b))

	close(release)
	workers := requireSucceeded(t, ctx, hs)
	require.ElementsMatch(t, workerIDs(t, b), workers, "one run on each worker")
}

// Shrinking while every worker is busy cancels nothing: each run finishes
// SUCCESSFUL on its worker, the retired workers leave, and from then on no
// more than the new number of runs run at once.
func TestThreadPoolSetMaxWorkersShrinkWhileBusy(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 4})
	left := localtasks.LeftForTest(b)
	var before, after load
	started, release := make(chan string, 4), make(chan struct{})
	old := enqueueTracked(t, ctx, b, 4, trackArgs{load: &before, started: started, release: release})
	for range 4 {
		receive(t, ctx, started, "the runs on every worker")
	}

	require.NoError(t, b.SetMaxWorkers(2))
	require.Equal(t, 2, b.MaxWorkers())
	require.Len(t, workerIDs(t, b), 4, "the retiring workers are listed until they leave")
	started2, release2 := make(chan string, 4), make(chan struct{})
	next := enqueueTracked(t, ctx, b, 4, trackArgs{load: &after, started: started2, release: release2})

	close(release)
	gone := []int{receive(t, ctx, left, "a retired worker"), receive(t, ctx, left, "the other retired worker")}
	require.ElementsMatch(t, []int{2, 3}, gone, "the highest slots retire")
	requireSucceeded(t, ctx, old)
	require.EqualValues(t, 4, before.most.Load())

	receive(t, ctx, started2, "a run after the shrink")
	receive(t, ctx, started2, "another run after the shrink")
	snap := snapshotOf(t, b)
	require.Equal(t, 2, snap.Counts.Running, "two workers left, both busy")
	require.Equal(t, 2, snap.Counts.Ready, "the other runs wait")
	require.Equal(t, []string{"threadpool:private/0", "threadpool:private/1"}, workerIDs(t, b))
	close(release2)
	for _, w := range requireSucceeded(t, ctx, next) {
		require.Contains(t, []string{"threadpool:private/0", "threadpool:private/1"}, w)
	}
	require.EqualValues(t, 2, after.most.Load(), "at most two at once after the shrink")
	require.Empty(t, left, "no other worker left")
}

// Idle workers of retired slots leave at once; a later grow reuses their
// slots with fresh workers.
func TestThreadPoolSetMaxWorkersShrinkIdleThenGrow(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3})
	left := localtasks.LeftForTest(b)
	var l load
	requireSucceeded(t, ctx, enqueueTracked(t, ctx, b, 20, trackArgs{load: &l}))

	require.NoError(t, b.SetMaxWorkers(1))
	gone := []int{receive(t, ctx, left, "an idle retired worker"), receive(t, ctx, left, "the other")}
	require.ElementsMatch(t, []int{1, 2}, gone)
	require.Equal(t, []string{"threadpool:private/0"}, workerIDs(t, b))
	requireSucceeded(t, ctx, enqueueTracked(t, ctx, b, 5, trackArgs{load: &l}))

	require.NoError(t, b.SetMaxWorkers(3))
	snap := snapshotOf(t, b)
	require.Len(t, snap.Workers, 3)
	for i, w := range snap.Workers {
		require.Equal(t, fmt.Sprintf("threadpool:private/%d", i), w.ID)
		if i > 0 {
			require.Zero(t, w.TasksDone, "slot %d has a new worker", i)
		}
	}
	var again load
	started, release := make(chan string, 3), make(chan struct{})
	hs := enqueueTracked(t, ctx, b, 3, trackArgs{load: &again, started: started, release: release})
	for range 3 {
		receive(t, ctx, started, "a run on each of the three workers")
	}
	close(release)
	requireSucceeded(t, ctx, hs)
	require.EqualValues(t, 3, again.most.Load())
}

// A grow back over a slot whose worker is retiring keeps that worker: it
// goes on taking runs after the one it had.
func TestThreadPoolSetMaxWorkersGrowBackKeepsRetiringWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2})
	left := localtasks.LeftForTest(b)
	var l load
	started, release := make(chan string, 2), make(chan struct{})
	old := enqueueTracked(t, ctx, b, 2, trackArgs{load: &l, started: started, release: release})
	receive(t, ctx, started, "a run")
	receive(t, ctx, started, "the other run")

	require.NoError(t, b.SetMaxWorkers(1))
	require.NoError(t, b.SetMaxWorkers(2))
	close(release)
	requireSucceeded(t, ctx, old)

	started2, release2 := make(chan string, 2), make(chan struct{})
	next := enqueueTracked(t, ctx, b, 2, trackArgs{load: &l, started: started2, release: release2})
	receive(t, ctx, started2, "a run")
	receive(t, ctx, started2, "the other run, on the worker that stayed")
	close(release2)
	requireSucceeded(t, ctx, next)
	require.Equal(t, []string{"threadpool:private/0", "threadpool:private/1"}, workerIDs(t, b))
	require.Empty(t, left, "no worker left")
}

// Close after a shrink waits for the retiring workers' runs, as for any
// running run, and for every worker to leave; the goroutines are checked
// by goleak in TestMain.
func TestThreadPoolSetMaxWorkersShrinkThenClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 3})
	require.NoError(t, err)
	left := localtasks.LeftForTest(b)
	var l load
	started, release := make(chan string, 3), make(chan struct{})
	hs := enqueueTracked(t, ctx, b, 3, trackArgs{load: &l, started: started, release: release})
	for range 3 {
		receive(t, ctx, started, "the runs on every worker")
	}
	require.NoError(t, b.SetMaxWorkers(1))

	closed := make(chan error, 1)
	go func() { closed <- b.Close(ctx) }()
	close(release)
	require.NoError(t, receive(t, ctx, closed, "Close"))
	requireSucceeded(t, ctx, hs)
	gone := []int{receive(t, ctx, left, "a worker"), receive(t, ctx, left, "a worker"), receive(t, ctx, left, "a worker")}
	require.ElementsMatch(t, []int{0, 1, 2}, gone, "every worker left")
	require.ErrorIs(t, b.SetMaxWorkers(2), localtasks.ErrClosed)
}

// Resizing over and over while runs stream through loses and cancels none.
func TestThreadPoolSetMaxWorkersUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const runs = 2000
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{MaxResults: runs}, MaxWorkers: 4})
	var l load
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var resizeErr error
	wg.Go(func() {
		for i := 0; resizeErr == nil; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resizeErr = b.SetMaxWorkers(1 + i%8)
		}
	})
	hs := enqueueTracked(t, ctx, b, runs, trackArgs{load: &l})
	requireSucceeded(t, ctx, hs)
	close(stop)
	wg.Wait()
	require.NoError(t, resizeErr)
	require.NoError(t, b.Drain(ctx))
	require.EqualValues(t, runs, b.Counters().Succeeded)
	require.LessOrEqual(t, l.most.Load(), int32(8))
}

func TestSetMaxWorkersErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	for _, n := range []int{0, -1} {
		err := b.SetMaxWorkers(n)
		require.ErrorIs(t, err, localtasks.ErrConfig, "n=%d", n)
		require.ErrorContains(t, err, "pass 1 or more")
	}
	require.Equal(t, 2, b.MaxWorkers(), "a refused size changes nothing")
	require.NoError(t, b.SetMaxWorkers(2), "the same size is a no-op")
	require.NoError(t, b.Close(ctx))
	err = b.SetMaxWorkers(3)
	require.ErrorIs(t, err, localtasks.ErrClosed)
	require.ErrorContains(t, err, "build a new backend")
}

// SetMaxWorkers acts on the state of a Name, which every backend of it
// sees; a backend built later under the Name is checked against the
// configured MaxWorkers, not the resized one.
func TestSetMaxWorkersActsOnTheNamedState(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "resize-named"}, MaxWorkers: 2}
	a, err := localtasks.NewThreadPool(cfg)
	require.NoError(t, err)
	require.NoError(t, a.SetMaxWorkers(5))
	b := newPool(t, cfg)
	require.Equal(t, 5, b.MaxWorkers(), "the other backend of the Name sees the new size")

	resized := cfg
	resized.MaxWorkers = 5
	_, err = localtasks.NewThreadPool(resized)
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "it has MaxWorkers 2")

	require.NoError(t, a.Close(ctx))
	require.ErrorIs(t, a.SetMaxWorkers(3), localtasks.ErrClosed, "a closed backend, though its state lives on")
	require.NoError(t, b.SetMaxWorkers(3))
	require.Equal(t, 3, b.MaxWorkers())
}

// The immediate and recording backends have no workers to resize.
func TestResizerIsOptional(t *testing.T) {
	t.Parallel()
	var backends []localtasks.Backend
	imm, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	backends = append(backends, imm, rec)
	for _, b := range backends {
		_, ok := b.(localtasks.Resizer)
		require.False(t, ok, "%T", b)
		require.NoError(t, b.(localtasks.Controller).Close(testCtx(t)))
	}
}
