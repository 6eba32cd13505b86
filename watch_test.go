package localtasks_test

import (
	"context"
	"errors"
	"iter"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// stepper waits for each of its gates in turn and reports progress after
// each but the first: with n gates, n-1 steps of n-1. After the last
// progress it closes reported, if set. It fails if fail is set.
var stepper = localtasks.Define("test.watch.stepper", func(ctx context.Context, a stepperArgs) (int, error) {
	steps := int64(len(a.gates) - 1)
	for i, g := range a.gates {
		select {
		case <-g:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if i < len(a.gates)-1 {
			for _, n := range a.burst(int64(i + 1)) {
				localtasks.SetProgress(ctx, n, steps*a.per(), "step")
			}
		}
		if i == len(a.gates)-2 && a.reported != nil {
			close(a.reported)
		}
	}
	if a.fail {
		return 0, errors.New("stepper failed")
	}
	return int(steps), nil
})

type stepperArgs struct {
	gates    []chan struct{}
	reported chan struct{}
	fail     bool
	burstOf  int64 // reports a step makes: Done counts them all
}

func (a stepperArgs) per() int64 { return max(a.burstOf, 1) }

// burst returns the Done of each report of step i.
func (a stepperArgs) burst(i int64) []int64 {
	var ns []int64
	for k := int64(1); k <= a.per(); k++ {
		ns = append(ns, (i-1)*a.per()+k)
	}
	return ns
}

func gates(n int) []chan struct{} {
	gs := make([]chan struct{}, n)
	for i := range gs {
		gs[i] = make(chan struct{})
	}
	return gs
}

// pull starts a watch that the test reads one value at a time.
func pull(t *testing.T, seq iter.Seq2[localtasks.TaskResult, error]) func() (localtasks.TaskResult, error, bool) {
	next, stop := iter.Pull2(seq)
	t.Cleanup(stop)
	return next
}

// untilRunning reads a watch until it yields RUNNING, which it returns;
// before that it may yield READY, and nothing else.
func untilRunning(t *testing.T, next func() (localtasks.TaskResult, error, bool)) localtasks.TaskResult {
	t.Helper()
	for {
		res, err, ok := next()
		require.True(t, ok, "the watch ended before the run started")
		require.NoError(t, err)
		if res.Status == localtasks.StatusRunning {
			return res
		}
		require.Equal(t, localtasks.StatusReady, res.Status, "before it runs, a run is READY")
	}
}

func TestWatchSeesEachChangeInOrder(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "Succeeds", true: "Fails"}[fail], func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
			gs := gates(3)
			h, err := stepper.Enqueue(ctx, b, stepperArgs{gates: gs, fail: fail})
			require.NoError(t, err)
			next := pull(t, h.Watch(ctx))

			res := untilRunning(t, next)
			require.Equal(t, 1, res.Attempts)
			require.Zero(t, res.Progress.Done)
			for i := range 2 {
				close(gs[i]) // the task reports step i+1, then waits
				res, err, ok := next()
				require.True(t, ok)
				require.NoError(t, err)
				require.Equal(t, localtasks.StatusRunning, res.Status)
				require.Equal(t, int64(i+1), res.Progress.Done, "each step, in order")
				require.Equal(t, int64(2), res.Progress.Total)
			}
			close(gs[2])
			res, err, ok := next()
			require.True(t, ok)
			require.NoError(t, err)
			want := localtasks.StatusSuccessful
			if fail {
				want = localtasks.StatusFailed
				require.Len(t, res.Errors, 1)
			} else {
				require.Equal(t, 2, res.Value)
			}
			require.Equal(t, want, res.Status)
			require.Equal(t, int64(2), res.Progress.Done, "the final snapshot keeps the last progress")
			_, _, ok = next()
			require.False(t, ok, "the watch ends with the final status")
		})
	}
}

func TestWatchSlowReaderSeesTheLatest(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	gs := gates(2)
	reported := make(chan struct{})
	h, err := stepper.Enqueue(ctx, b, stepperArgs{gates: gs, reported: reported, burstOf: 1000})
	require.NoError(t, err)
	next := pull(t, h.Watch(ctx))
	untilRunning(t, next)

	close(gs[0])
	<-reported // 1000 reports while the reader reads nothing
	res, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, int64(1000), res.Progress.Done, "the reports in between are coalesced: the latest wins")
	close(gs[1])
	res, _, ok = next()
	require.True(t, ok)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
}

func TestWatchAfterFinish(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	imm, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, imm.Close(ctx)) })
	for name, b := range map[string]localtasks.Backend{"ThreadPool": newPool(t, localtasks.ThreadPoolConfig{}), "Immediate": imm} {
		t.Run(name, func(t *testing.T) {
			gs := gates(2)
			close(gs[0])
			close(gs[1])
			h, err := stepper.Enqueue(ctx, b, stepperArgs{gates: gs})
			require.NoError(t, err)
			_, err = h.Wait(ctx)
			require.NoError(t, err)
			var got []localtasks.TaskResult
			for res, err := range h.Watch(ctx) {
				require.NoError(t, err)
				got = append(got, res)
			}
			require.Len(t, got, 1, "a finished run yields its final snapshot, and the watch ends")
			require.Equal(t, localtasks.StatusSuccessful, got[0].Status)
			require.Equal(t, int64(1), got[0].Progress.Done)
		})
	}
}

// TestWatchCtxEnds is not parallel, so that goleak sees the goroutines of
// this test alone.
func TestWatchCtxEnds(t *testing.T) {
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	h, err := gate.Enqueue(testCtx(t), b, gateArgs{started: started, release: release})
	require.NoError(t, err)
	<-started
	before := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	n := 0
	for res, err := range h.Watch(ctx) {
		n++
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			require.Zero(t, res.Status)
			continue // the last value: the loop ends after it
		}
		require.Equal(t, localtasks.StatusRunning, res.Status)
		cancel()
	}
	require.Equal(t, 2, n, "a state, then ctx's error")

	// A loop that breaks early ends its watch too.
	for range h.Watch(testCtx(t)) {
		break
	}
	goleak.VerifyNone(t, before)
}

func TestWatchManyWatchers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	started, release := make(chan struct{}), make(chan struct{})
	h, err := gate.Enqueue(ctx, b, gateArgs{started: started, release: release})
	require.NoError(t, err)
	<-started

	const n = 50
	var ready, done sync.WaitGroup
	ready.Add(n)
	finals := make(chan localtasks.TaskResult, n)
	for range n {
		done.Go(func() {
			first := true
			var last localtasks.TaskResult
			for res, err := range h.Watch(ctx) {
				if err != nil {
					panic(err)
				}
				if first {
					ready.Done()
					first = false
				}
				last = res
			}
			finals <- last
		})
	}
	ready.Wait() // every watch has its first value: each is registered
	close(release)
	done.Wait()
	close(finals)
	for res := range finals {
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, "released", res.Value)
	}
}

func TestWatchUnknownID(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	for _, id := range []string{uuid.NewString(), "not an ID"} {
		n := 0
		for res, err := range localtasks.Watch(ctx, b, id) {
			n++
			require.ErrorIs(t, err, localtasks.ErrResultNotFound)
			require.Zero(t, res.Status)
		}
		require.Equal(t, 1, n, "the error, and nothing after")
	}
	var zero localtasks.Handle[int]
	for _, err := range zero.Watch(ctx) {
		require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	}
}

func TestWatchRecording(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(ctx)) })
	h, err := gate.Enqueue(ctx, b, gateArgs{})
	require.NoError(t, err)
	next := pull(t, h.Watch(ctx))
	res, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, res.Status, "a recorded run stays READY")
	require.NoError(t, h.Cancel(ctx))
	res, err, ok = next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	_, _, ok = next()
	require.False(t, ok)
}

// A watch on a recorded run follows it when the test runs it.
func TestWatchRecordingRun(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(ctx)) })
	h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 3})
	require.NoError(t, err)
	next := pull(t, h.Watch(ctx))
	res, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, res.Status)
	_, err = b.Run(ctx, h.ID())
	require.NoError(t, err)
	res, err, ok = next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status, "the run the test ran, its latest state")
	_, _, ok = next()
	require.False(t, ok)
}

// backendOnly hides every method of a backend but Backend's.
type backendOnly struct{ localtasks.Backend }

func TestWatchBackendWithoutWatcher(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	b := backendOnly{pool}
	started, release := make(chan struct{}), make(chan struct{})
	r, err := b.Enqueue(ctx, gate.Definition(), gateArgs{started: started, release: release}, gate.Options())
	require.NoError(t, err)
	<-started
	var got []localtasks.Status
	for res, err := range localtasks.Watch(ctx, b, r.ID) {
		require.NoError(t, err)
		got = append(got, res.Status)
		if len(got) == 1 {
			close(release)
		}
	}
	require.Equal(t, []localtasks.Status{localtasks.StatusRunning, localtasks.StatusSuccessful}, got,
		"the state now, then the final one from Wait")
}

// retried fails its first attempt once first is closed, and succeeds in
// its second once second is.
var retried = localtasks.Define("test.watch.retried", func(ctx context.Context, a retriedArgs) (int, error) {
	if localtasks.Attempt(ctx) == 1 {
		<-a.first
		return 0, errors.New("first attempt fails")
	}
	<-a.second
	return localtasks.Attempt(ctx), nil
}, localtasks.WithRetry(localtasks.FixedRetry(2, 0)))

type retriedArgs struct{ first, second chan struct{} }

// TestWatchSeesRetry: a second attempt is a change of its own, though the
// status is RUNNING again.
func TestWatchSeesRetry(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	a := retriedArgs{first: make(chan struct{}), second: make(chan struct{})}
	h, err := retried.Enqueue(ctx, b, a)
	require.NoError(t, err)
	next := pull(t, h.Watch(ctx))
	res := untilRunning(t, next)
	require.Equal(t, 1, res.Attempts)

	close(a.first)
	for {
		res, err, ok := next()
		require.True(t, ok)
		require.NoError(t, err)
		if res.Status == localtasks.StatusRunning {
			require.Equal(t, 2, res.Attempts, "RUNNING again, for the second attempt")
			require.Len(t, res.Errors, 1)
			break
		}
		require.Equal(t, localtasks.StatusReady, res.Status, "queued again for its retry")
		require.Equal(t, 1, res.Attempts)
	}
	close(a.second)
	res, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, 2, res.Value)
}
