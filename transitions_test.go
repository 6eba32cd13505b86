package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// The tasks of TestTransitions.
var (
	// transit runs until its channel gives it an outcome: it returns that
	// error, or its attempt number with a nil one. Its ctx ending ends it.
	transit = localtasks.Define("test.transit", func(ctx context.Context, outcome chan error) (int, error) {
		select {
		case err := <-outcome:
			return localtasks.Attempt(ctx), err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// ratedOnce returns its argument, and starts at most once a minute.
	ratedOnce = localtasks.Define("test.rated-once", func(ctx context.Context, n int) (int, error) {
		return n, nil
	}, localtasks.WithRateLimit(localtasks.RateLimit{Max: 1, Period: time.Minute}))
)

// TestTransitions makes each transition of a run's status that lifecycle.go
// numbers, on a real backend, and checks the run's status before and after
// it and the event it emits (EventEnqueued as a run gets its first status,
// EventStarted as an attempt starts, EventFinished as a run ends) or that it
// emits none. A run that is "new" has no status yet: its first event is the
// transition.
func TestTransitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"1 new to READY", transitionNewToReady},
		{"2 new to SCHEDULED", transitionNewToScheduled},
		{"3 new to CANCELLED", transitionNewToCancelled},
		{"4 SCHEDULED to READY", transitionScheduledToReady},
		{"5 READY to RUNNING", transitionReadyToRunning},
		{"6 READY to SCHEDULED", transitionReadyToScheduled},
		{"7 READY to CANCELLED", transitionReadyToCancelled},
		{"8 SCHEDULED to CANCELLED", transitionScheduledToCancelled},
		{"9 RUNNING to SUCCESSFUL", transitionRunningToSuccessful},
		{"10 RUNNING to FAILED", transitionRunningToFailed},
		{"11 RUNNING to CANCELLED", transitionRunningToCancelled},
		{"12 RUNNING to READY", transitionRunningToReady},
		{"13 RUNNING to SCHEDULED", transitionRunningToScheduled},
		{"14 dispatched to READY", transitionDispatchedToReady},
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	require.Equal(t, lifecycleTransitions(t), names,
		"TestTransitions walks the transitions lifecycle.go's header lists, in its order: add a case for a new one")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// lifecycleTransitions returns the transitions lifecycle.go's header comment
// numbers, as "7 READY to CANCELLED".
func lifecycleTransitions(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("lifecycle.go")
	require.NoError(t, err)
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+(\d+)\s+(\S+) → (\S+)\s`).FindAllStringSubmatch(string(src), -1) {
		names = append(names, fmt.Sprintf("%s %s to %s", m[1], m[2], m[3]))
	}
	require.Len(t, names, 14, "lifecycle.go's header numbers 14 transitions")
	return names
}

// events keeps the events of a subscription by run, so that a test can
// take each run's events in order, and see that a run emitted none.
type events struct {
	sub     *localtasks.Subscription
	pending map[string][]localtasks.Event
}

func subscribeEvents(t *testing.T, b localtasks.Subscriber) *events {
	sub := b.Subscribe(256)
	t.Cleanup(sub.Close)
	return &events{sub: sub, pending: map[string][]localtasks.Event{}}
}

func (e *events) keep(ev localtasks.Event) {
	e.pending[ev.Result.ID] = append(e.pending[ev.Result.ID], ev)
}

// next returns the run's next event, waiting for it.
func (e *events) next(t *testing.T, ctx context.Context, id string) localtasks.Event {
	t.Helper()
	for len(e.pending[id]) == 0 {
		select {
		case ev, ok := <-e.sub.C():
			require.True(t, ok, "the subscription closed before an event of run %s", id)
			e.keep(ev)
		case <-ctx.Done():
			t.Fatalf("no event of run %s: %v", id, ctx.Err())
		}
	}
	ev := e.pending[id][0]
	e.pending[id] = e.pending[id][1:]
	return ev
}

// expect checks that the run's next event is of that kind, with the run in
// that status, and returns it.
func (e *events) expect(t *testing.T, ctx context.Context, id string, kind localtasks.EventKind, st localtasks.Status) localtasks.Event {
	t.Helper()
	ev := e.next(t, ctx, id)
	require.Equal(t, kind, ev.Kind, "the event of run %s", id)
	require.Equal(t, st, ev.Result.Status, "run %s's status in its %v event", id, kind)
	return ev
}

// none checks that the run emitted no event yet to be taken. Events are
// delivered under the state's lock as the transition is made, so once a
// read has seen the transition, its event, if any, is in the channel.
func (e *events) none(t *testing.T, id, what string) {
	t.Helper()
	for {
		select {
		case ev, ok := <-e.sub.C():
			if ok {
				e.keep(ev)
				continue
			}
		default:
		}
		break
	}
	require.Empty(t, e.pending[id], "%s emits no event", what)
	require.Zero(t, e.sub.Dropped(), "the subscription dropped events")
}

// transitionPool returns a thread pool of n workers on a fake clock at
// localtaskstest.Epoch, with its events.
func transitionPool(t *testing.T, workers int) (*localtasks.ThreadPoolBackend, *localtaskstest.FakeClock, *events, context.Context) {
	t.Helper()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: workers})
	return b, clock, subscribeEvents(t, b), testCtx(t)
}

// occupied blocks the one worker of b and returns what releases it, which
// the test's cleanup calls too (before b closes).
func occupied(t *testing.T, b localtasks.Backend) func() {
	t.Helper()
	ch := occupy(t, b, 1)
	release := sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return release
}

// status returns the run's result, and checks that the counts of runs by
// status that the backend keeps for Snapshot agree with the runs it holds.
func status(t *testing.T, ctx context.Context, b localtasks.Backend, id string) localtasks.TaskResult {
	t.Helper()
	res, err := b.GetResult(ctx, id)
	require.NoError(t, err)
	require.NoError(t, localtasks.CheckCountsForTest(b))
	return res
}

// startTransit enqueues a transit run on b with opts and waits for it to
// start; it returns the run and its outcome channel, which holds two.
func startTransit(t *testing.T, ctx context.Context, b localtasks.Backend, ev *events, opts ...localtasks.Option) (localtasks.Handle[int], chan error) {
	t.Helper()
	outcome := make(chan error, 2)
	hd, err := transit.Using(opts...).Enqueue(ctx, b, outcome)
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	started := ev.expect(t, ctx, hd.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	require.Equal(t, 1, started.Result.Attempts)
	require.Equal(t, localtasks.StatusRunning, status(t, ctx, b, hd.ID()).Status, "before")
	return hd, outcome
}

// 1: Enqueue queues a run that may start at once.
func transitionNewToReady(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	occupied(t, b) // so that it stays READY
	hd, err := note.Enqueue(ctx, b, noteArgs{n: 1, log: &orderLog{}})
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusReady, res.Status, "after")
	require.Zero(t, res.Attempts)
}

// 2: Enqueue with a run-after time schedules the run.
func transitionNewToScheduled(t *testing.T) {
	b, clock, ev, ctx := transitionPool(t, 1)
	hd, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusScheduled)
	require.Equal(t, localtaskstest.Epoch.Add(time.Minute), e.Result.RunAfter)
	require.Equal(t, localtasks.StatusScheduled, status(t, ctx, b, hd.ID()).Status, "after")
	require.Equal(t, 1, clock.Pending(), "the timer for its time")
}

// 3: a strike ends a run at enqueue, before it is queued.
func transitionNewToCancelled(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	require.NoError(t, b.Strike(localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "N", Op: localtasks.OpEqual, Value: 13}))
	hd, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 13})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, hd.Disposition())
	require.Equal(t, localtasks.EventEnqueued, ev.next(t, ctx, hd.ID()).Kind, "a struck run is enqueued")
	ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusCancelled)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status, "after")
	require.Zero(t, res.Attempts)
	require.Contains(t, res.CancelReason, "struck")
}

// 4: a scheduled run's time comes.
func transitionScheduledToReady(t *testing.T) {
	b, clock, ev, ctx := transitionPool(t, 1)
	occupied(t, b) // so that it stays READY
	hd, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusScheduled)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute - time.Nanosecond)
	require.Equal(t, localtasks.StatusScheduled, status(t, ctx, b, hd.ID()).Status, "before")
	clock.Advance(time.Nanosecond) // fires the timer, in this goroutine
	require.Equal(t, localtasks.StatusReady, status(t, ctx, b, hd.ID()).Status, "after")
	ev.none(t, hd.ID(), "SCHEDULED to READY")
}

// 5: a worker starts a ready run.
func transitionReadyToRunning(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	release := occupied(t, b)
	outcome := make(chan error, 1)
	hd, err := transit.Enqueue(ctx, b, outcome)
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	require.Equal(t, localtasks.StatusReady, status(t, ctx, b, hd.ID()).Status, "before")
	release()
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	require.Equal(t, 1, e.Result.Attempts)
	require.Len(t, e.Result.WorkerIDs, 1)
	require.Equal(t, localtasks.StatusRunning, status(t, ctx, b, hd.ID()).Status, "after")
	outcome <- nil
	_, err = hd.Wait(ctx)
	require.NoError(t, err)
}

// 6: a rate limit puts off a run a worker took.
func transitionReadyToScheduled(t *testing.T) {
	b, clock, ev, ctx := transitionPool(t, 1)
	release := occupied(t, b)
	first, err := ratedOnce.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	second, err := ratedOnce.Enqueue(ctx, b, 2)
	require.NoError(t, err)
	ev.expect(t, ctx, second.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	require.Equal(t, localtasks.StatusReady, status(t, ctx, b, second.ID()).Status, "before")
	release()
	ev.expect(t, ctx, first.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	ev.expect(t, ctx, first.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	ev.expect(t, ctx, first.ID(), localtasks.EventFinished, localtasks.StatusSuccessful)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the timer of the put-off run")
	res := status(t, ctx, b, second.ID())
	require.Equal(t, localtasks.StatusScheduled, res.Status, "after")
	require.Equal(t, localtaskstest.Epoch.Add(time.Minute), res.RunAfter, "to when the rate allows a start")
	require.Zero(t, res.Attempts, "it did not start")
	ev.none(t, second.ID(), "READY to SCHEDULED")
}

// 7: Cancel ends a ready run.
func transitionReadyToCancelled(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	occupied(t, b)
	hd, err := note.Enqueue(ctx, b, noteArgs{n: 1, log: &orderLog{}})
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	require.Equal(t, localtasks.StatusReady, status(t, ctx, b, hd.ID()).Status, "before")
	require.NoError(t, hd.Cancel(ctx))
	ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusCancelled)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status, "after")
	require.Zero(t, res.Attempts)
	require.Equal(t, "cancelled before it started", res.CancelReason)
}

// 8: Cancel ends a scheduled run, and its timer.
func transitionScheduledToCancelled(t *testing.T) {
	b, clock, ev, ctx := transitionPool(t, 1)
	hd, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusScheduled)
	require.Equal(t, localtasks.StatusScheduled, status(t, ctx, b, hd.ID()).Status, "before")
	require.Equal(t, 1, clock.Pending())
	require.NoError(t, hd.Cancel(ctx))
	ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusCancelled)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status, "after")
	require.Zero(t, res.Attempts)
	require.Zero(t, clock.Pending(), "its timer is stopped")
}

// 9: the attempt returns a value.
func transitionRunningToSuccessful(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	hd, outcome := startTransit(t, ctx, b, ev)
	outcome <- nil
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusSuccessful)
	require.Equal(t, 1, e.Result.Value)
	require.Equal(t, localtasks.StatusSuccessful, status(t, ctx, b, hd.ID()).Status, "after")
}

// 10: the last attempt allowed fails.
func transitionRunningToFailed(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	hd, outcome := startTransit(t, ctx, b, ev)
	outcome <- errors.New("boom")
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusFailed)
	require.Len(t, e.Result.Errors, 1)
	require.Equal(t, "boom", e.Result.Errors[0].Message)
	require.Equal(t, localtasks.StatusFailed, status(t, ctx, b, hd.ID()).Status, "after")
}

// 11: Cancel while the run runs; it ends CANCELLED once the attempt returns.
func transitionRunningToCancelled(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	hd, _ := startTransit(t, ctx, b, ev)
	require.NoError(t, hd.Cancel(ctx))
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusCancelled)
	require.Equal(t, 1, e.Result.Attempts)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status, "after")
	require.Equal(t, "cancelled while it was running", res.CancelReason)
}

// 12: a failed attempt with a retry left and no delay goes back to the
// ready queue, behind the runs already there.
func transitionRunningToReady(t *testing.T) {
	b, _, ev, ctx := transitionPool(t, 1)
	hd, outcome := startTransit(t, ctx, b, ev, localtasks.WithRetry(localtasks.FixedRetry(2, 0)))
	// A run queued while it runs: the one worker takes it next, and it
	// blocks, so that the retried run stays READY.
	started, gateOpen := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(gateOpen) })
	t.Cleanup(release)
	blocker, err := gate.Enqueue(ctx, b, gateArgs{started: started, release: gateOpen})
	require.NoError(t, err)
	outcome <- errors.New("try again")
	ev.expect(t, ctx, blocker.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	ev.expect(t, ctx, blocker.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusReady, res.Status, "after")
	require.Equal(t, 1, res.Attempts)
	require.Len(t, res.Errors, 1)
	ev.none(t, hd.ID(), "RUNNING to READY")

	outcome <- nil // the retry succeeds, once the worker is free
	release()
	ev.expect(t, ctx, hd.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusSuccessful)
	require.Equal(t, 2, e.Result.Attempts)
}

// 13: a failed attempt with a retry left after a delay is scheduled.
func transitionRunningToScheduled(t *testing.T) {
	b, clock, ev, ctx := transitionPool(t, 1)
	hd, outcome := startTransit(t, ctx, b, ev, localtasks.WithRetry(localtasks.FixedRetry(2, 10*time.Second)))
	outcome <- errors.New("later")
	require.NoError(t, clock.BlockUntil(ctx, 1), "the retry's timer")
	res := status(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusScheduled, res.Status, "after")
	require.Equal(t, localtaskstest.Epoch.Add(10*time.Second), res.RunAfter)
	require.Equal(t, 1, res.Attempts)
	require.Len(t, res.Errors, 1)
	ev.none(t, hd.ID(), "RUNNING to SCHEDULED")

	outcome <- nil
	clock.Advance(10 * time.Second)
	ev.expect(t, ctx, hd.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	ev.expect(t, ctx, hd.ID(), localtasks.EventFinished, localtasks.StatusSuccessful)
}

// 14: a worker process dies with a run it was sent and had not started:
// the run goes back to the ready queue, and runs on another worker.
func transitionDispatchedToReady(t *testing.T) {
	if !processPoolSupported {
		t.Skip("the process pool runs on Unix only")
	}
	ctx := testCtx(t)
	// One worker, which takes a second run while it runs the first.
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, Window: 2,
		Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t))) })
	dispatched := localtasks.DispatchedForTest(b)
	ev := subscribeEvents(t, b)
	dispatchedNext := func(id, what string) {
		t.Helper()
		select {
		case got := <-dispatched:
			require.Equal(t, id, got, what)
		case <-ctx.Done():
			t.Fatalf("%s: not dispatched", what)
		}
	}

	blocker, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	hd, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 14})
	require.NoError(t, err)
	dispatchedNext(blocker.ID(), "the blocker goes to the worker")
	dispatchedNext(hd.ID(), "the run goes to the worker, behind the blocker")
	ev.expect(t, ctx, blocker.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	first := ev.expect(t, ctx, blocker.ID(), localtasks.EventStarted, localtasks.StatusRunning).Result.WorkerIDs[0]
	ev.expect(t, ctx, hd.ID(), localtasks.EventEnqueued, localtasks.StatusReady)
	require.Equal(t, localtasks.StatusReady, status(t, ctx, b, hd.ID()).Status, "before: dispatched, not started")
	ev.none(t, hd.ID(), "a dispatch")

	var pid int
	for _, w := range snapshotOf(t, b).Workers {
		if w.ID == first {
			pid = w.PID
		}
	}
	require.Positive(t, pid, "the worker %s", first)
	p, err := os.FindProcess(pid)
	require.NoError(t, err)
	require.NoError(t, p.Kill())

	_, err = blocker.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit, "the started run dies with its worker")
	dispatchedNext(hd.ID(), "after: the run was queued again, and goes to the new worker")
	e := ev.expect(t, ctx, hd.ID(), localtasks.EventStarted, localtasks.StatusRunning)
	require.Equal(t, 1, e.Result.Attempts, "the dead worker never started it")
	require.NotEqual(t, first, e.Result.WorkerIDs[0], "it runs on another worker")
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 14, v.N)
}
