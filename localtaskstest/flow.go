package localtaskstest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// The flow-control cases: batches, deadlines, pauses and queues with
// workers of their own.

// SideQueue is the second queue of the flow-control cases: a backend they
// build lists it in Config.Queues beside QueueDefault. Its name is
// letters and a hyphen, which every backend takes (River's queue names
// have no dots).
const SideQueue = "localtaskstest-side"

func (h *harness) flowCases() []testCase {
	var cs []testCase
	if h.caps.Deadline {
		cs = append(cs, testCase{"DeadlineRefused", testDeadlineRefused})
	}
	if _, ok := h.probe.(localtasks.BatchEnqueuer); ok {
		cs = append(cs, testCase{"EnqueueMany", testEnqueueMany}, testCase{"EnqueueManyRefused", testEnqueueManyRefused})
	}
	if !h.runs {
		return cs
	}
	_, pauses := h.probe.(localtasks.Pauser)
	if !pauses || !h.events || !h.snapshots || !h.caps.CancelRunning {
		return cs
	}
	// Queue pauses (PauseQueues, or Pause, which has them too).
	if h.caps.PauseQueues || h.caps.Pause {
		cs = append(cs, testCase{"PauseRefused", testPauseRefused})
		if h.caps.Defer {
			cs = append(cs, testCase{"PauseQueue", testPauseQueue})
		}
		if h.caps.Defer && h.caps.Deadline {
			cs = append(cs, testCase{"DeadlineScheduled", testDeadlineScheduled})
		}
	}
	// Task pauses and queues' workers of their own (Config.QueueWorkers).
	if h.caps.Pause {
		cs = append(cs,
			testCase{"PauseTask", testPauseTask},
			testCase{"QueueWorkers", testQueueWorkers},
			testCase{"QueueWorkersPriority", testQueueWorkersPriority})
		if h.caps.Defer && h.caps.Deadline {
			cs = append(cs, testCase{"Deadline", testDeadline})
		}
	}
	return cs
}

// sideBackend builds a backend with SideQueue beside the default queue.
func (h *harness) sideBackend(t *testing.T, workers map[string]int) (localtasks.Backend, *FakeClock, context.Context) {
	t.Helper()
	return h.setupWith(t, localtasks.Config{Queues: []string{localtasks.QueueDefault, SideQueue}, QueueWorkers: workers})
}

func testEnqueueMany(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	args := []EchoArgs{{N: 1}, {N: 2}, {N: 3}}
	hs, err := Echo.EnqueueMany(ctx, b, args)
	require.NoError(t, err)
	require.Len(t, hs, len(args))
	seen := map[string]bool{}
	for i, hd := range hs {
		require.Equal(t, localtasks.Enqueued, hd.Disposition())
		require.False(t, seen[hd.ID()], "one run an argument")
		seen[hd.ID()] = true
		res := result(t, ctx, b, hd.ID())
		require.Equal(t, args[i], res.Args, "handle %d is argument %d's run", i, i)
		if h.runs {
			v, err := hd.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, args[i], v)
		}
	}

	// A key held within the batch: the later ones get the first's run.
	keyed, err := Echo.Using(localtasks.WithKey("one"), localtasks.WithDelay(time.Hour)).EnqueueMany(ctx, b, args[:2])
	if errors.Is(err, errors.ErrUnsupported) {
		return // no run-after times here: the key case needs one
	}
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, keyed[0].Disposition())
	require.Equal(t, localtasks.AlreadyEnqueued, keyed[1].Disposition())
	require.Equal(t, keyed[0].ID(), keyed[1].ID())
}

func testEnqueueManyRefused(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	be := b.(localtasks.BatchEnqueuer)
	_, err := be.EnqueueMany(ctx, Echo.Definition(), []any{EchoArgs{N: 1}, "not an EchoArgs", EchoArgs{N: 3}}, Echo.Options())
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "argument 1 of 3")
	if s, ok := b.(localtasks.Snapshotter); ok {
		require.Zero(t, s.Counters().Enqueued, "nothing was queued")
		snap := snapshotOf(t, s)
		require.Zero(t, snap.Counts.Ready+snap.Counts.Scheduled+snap.Counts.Successful)
	}
	hs, err := Echo.EnqueueMany(ctx, b, nil)
	require.NoError(t, err)
	require.Empty(t, hs)
}

func testDeadlineRefused(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	_, err := Echo.Using(localtasks.WithDeadline(Epoch.Add(-time.Second))).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "is not after")
	_, err = Echo.Using(localtasks.WithStartWithin(-time.Second)).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	_, err = Tick.Using(localtasks.WithStartWithin(time.Minute)).Enqueue(ctx, b, TickArgs{})
	require.Error(t, err, "a perpetual task takes no deadline")

	hd, err := Echo.Using(localtasks.WithDeadline(Epoch.Add(time.Hour))).Enqueue(ctx, b, EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, Epoch.Add(time.Hour), result(t, ctx, b, hd.ID()).Deadline)
}

// pauseFixture is a backend with SideQueue, a subscription to its events,
// and a record of which runs started.
type pauseFixture struct {
	b     localtasks.Backend
	p     localtasks.Pauser
	c     snapshotDrainer
	clock *FakeClock
	ctx   context.Context
	mu    sync.Mutex
	sub   *localtasks.Subscription
}

func newPauseFixture(t *testing.T, h *harness, workers map[string]int) *pauseFixture {
	b, clock, ctx := h.sideBackend(t, workers)
	return &pauseFixture{b: b, p: as[localtasks.Pauser](t, b), c: as[snapshotDrainer](t, b), clock: clock, ctx: ctx, sub: subscribe(t, b)}
}

// finish waits for the run's end, and returns its result.
func (f *pauseFixture) finish(t *testing.T, id string) localtasks.TaskResult {
	t.Helper()
	res, err := f.b.Wait(f.ctx, id)
	require.NoError(t, err)
	return res
}

// events returns the kinds of the events of run id seen up to the end of
// run upTo, which ends after it in the events' order.
func (f *pauseFixture) events(t *testing.T, id, upTo string) []localtasks.EventKind {
	t.Helper()
	var kinds []localtasks.EventKind
	waitFor(t, f.ctx, f.sub, "the end of run "+upTo, func(ev localtasks.Event) bool {
		if ev.Result.ID == id {
			kinds = append(kinds, ev.Kind)
		}
		return ev.Result.ID == upTo && ev.Kind == localtasks.EventFinished
	})
	return kinds
}

func testPauseQueue(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, nil)
	side := Echo.Using(localtasks.WithQueue(SideQueue))
	require.NoError(t, f.p.Pause(f.ctx, localtasks.Pause{Queue: SideQueue}))
	require.NoError(t, f.p.Pause(f.ctx, localtasks.Pause{Queue: SideQueue}), "pausing twice is pausing once")
	require.Equal(t, []localtasks.Pause{{Queue: SideQueue}}, f.p.Pauses())

	held, err := side.Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	later, err := side.Using(localtasks.WithDelay(time.Minute)).Enqueue(f.ctx, f.b, EchoArgs{N: 2})
	require.NoError(t, err)
	f.clock.Advance(time.Minute) // its time comes while the queue is paused
	// A run of the default queue, enqueued after them, goes past them:
	// were the side queue not paused, its runs, first in line, would have
	// started before this one ended.
	other, err := Echo.Enqueue(f.ctx, f.b, EchoArgs{N: 3})
	require.NoError(t, err)
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued}, f.events(t, held.ID(), other.ID()))
	require.Equal(t, localtasks.StatusSuccessful, f.finish(t, other.ID()).Status)
	for _, hd := range []localtasks.Handle[EchoArgs]{held, later} {
		require.Equal(t, localtasks.StatusReady, result(t, f.ctx, f.b, hd.ID()).Status, "a paused run stays READY")
	}
	snap := snapshotOf(t, f.c)
	require.Equal(t, []localtasks.Pause{{Queue: SideQueue}}, snap.Pauses)
	require.Len(t, snap.Queues, 2)
	q := snap.Queues[1]
	if !h.caps.Pause {
		// No Config.QueueWorkers here: a backend may bound each queue's
		// workers on its own (River's, by its Workers), which this
		// case does not decide.
		q.MaxWorkers = 0
	}
	require.Equal(t, localtasks.QueueInfo{Name: SideQueue, Ready: 2, Paused: true}, q, "its depth counts the runs it holds")
	require.Len(t, snap.Queued, 2, "held runs are listed as queued")

	require.NoError(t, f.p.Resume(f.ctx, localtasks.Pause{Queue: SideQueue}))
	require.NoError(t, f.p.Resume(f.ctx, localtasks.Pause{Queue: SideQueue}), "resuming twice is resuming once")
	require.Empty(t, f.p.Pauses())
	for _, hd := range []localtasks.Handle[EchoArgs]{held, later} {
		require.Equal(t, localtasks.StatusSuccessful, f.finish(t, hd.ID()).Status)
	}
	require.NoError(t, f.c.Drain(f.ctx))
}

func testPauseTask(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, nil)
	require.NoError(t, f.p.Pause(f.ctx, localtasks.Pause{Task: Echo.Name()}))
	held, err := Echo.Using(localtasks.WithQueue(SideQueue)).Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	// Its cancel, while paused, ends it at once.
	dropped, err := Echo.Enqueue(f.ctx, f.b, EchoArgs{N: 2})
	require.NoError(t, err)
	other, err := Steps.Enqueue(f.ctx, f.b, 1)
	require.NoError(t, err)
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued}, f.events(t, held.ID(), other.ID()))
	require.Equal(t, localtasks.StatusReady, result(t, f.ctx, f.b, held.ID()).Status)
	require.NoError(t, dropped.Cancel(f.ctx))
	require.Equal(t, localtasks.StatusCancelled, f.finish(t, dropped.ID()).Status)
	require.Equal(t, []localtasks.Pause{{Task: Echo.Name()}}, snapshotOf(t, f.c).Pauses)

	require.NoError(t, f.p.Resume(f.ctx, localtasks.Pause{Task: Echo.Name()}))
	require.Equal(t, localtasks.StatusSuccessful, f.finish(t, held.ID()).Status)
	require.NoError(t, f.c.Drain(f.ctx))
}

func testPauseRefused(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, nil)
	for _, p := range []localtasks.Pause{{}, {Queue: SideQueue, Task: Echo.Name()}, {Queue: "no such queue"}, {Task: "no such task"}} {
		require.ErrorIs(t, f.p.Pause(f.ctx, p), localtasks.ErrInvalidTask, "%+v", p)
		require.ErrorIs(t, f.p.Resume(f.ctx, p), localtasks.ErrInvalidTask, "%+v", p)
	}
	if !h.caps.Pause {
		// A backend that pauses only queues refuses a task's pause.
		p := localtasks.Pause{Task: Echo.Name()}
		require.ErrorIs(t, f.p.Pause(f.ctx, p), errors.ErrUnsupported)
		require.ErrorIs(t, f.p.Resume(f.ctx, p), errors.ErrUnsupported)
	}
	require.Empty(t, f.p.Pauses())
}

// testQueueWorkers: a queue bound to one worker runs one run at a time, and
// a flood of it leaves the other queue's runs their workers.
func testQueueWorkers(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, map[string]int{SideQueue: 1})
	side := Block.Using(localtasks.WithQueue(SideQueue))
	first, err := side.Enqueue(f.ctx, f.b, struct{}{})
	require.NoError(t, err)
	started(t, f.ctx, f.sub, first.ID())
	second, err := side.Enqueue(f.ctx, f.b, struct{}{})
	require.NoError(t, err)
	third, err := side.Enqueue(f.ctx, f.b, struct{}{})
	require.NoError(t, err)
	other, err := Echo.Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued}, f.events(t, second.ID(), other.ID()),
		"the side queue's second run waits for its one worker")
	snap := snapshotOf(t, f.c)
	require.Equal(t, localtasks.QueueInfo{Name: SideQueue, MaxWorkers: 1, Ready: 2, Running: 1}, snap.Queues[1], "two wait for its one worker")
	require.Equal(t, localtasks.StatusReady, result(t, f.ctx, f.b, third.ID()).Status)

	require.NoError(t, first.Cancel(f.ctx))
	started(t, f.ctx, f.sub, second.ID()) // the next in line, not the third
	require.Equal(t, localtasks.StatusReady, result(t, f.ctx, f.b, third.ID()).Status)
	require.NoError(t, second.Cancel(f.ctx))
	started(t, f.ctx, f.sub, third.ID())
	require.NoError(t, third.Cancel(f.ctx))
	require.NoError(t, f.c.Drain(f.ctx))
	require.Zero(t, snapshotOf(t, f.c).Queues[1].Running)
}

// testQueueWorkersPriority: priority orders runs across queues, but a run
// of a queue at its bound does not hold up a run of lower priority of
// another queue.
func testQueueWorkersPriority(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, map[string]int{SideQueue: 1})
	side := Block.Using(localtasks.WithQueue(SideQueue))
	running, err := side.Enqueue(f.ctx, f.b, struct{}{})
	require.NoError(t, err)
	started(t, f.ctx, f.sub, running.ID())
	urgent, err := side.Using(localtasks.WithPriority(localtasks.MaxPriority)).Enqueue(f.ctx, f.b, struct{}{})
	require.NoError(t, err)
	low, err := Echo.Using(localtasks.WithPriority(localtasks.MinPriority)).Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued}, f.events(t, urgent.ID(), low.ID()),
		"the low-priority run of the default queue ran while the urgent one waited for its queue")
	require.NoError(t, running.Cancel(f.ctx))
	started(t, f.ctx, f.sub, urgent.ID())
	require.NoError(t, urgent.Cancel(f.ctx))
	require.NoError(t, f.c.Drain(f.ctx))
}

// testDeadline: a run held past its deadline ends CANCELLED, from the
// timer heap, without a worker taking it.
func testDeadline(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, nil)
	require.NoError(t, f.p.Pause(f.ctx, localtasks.Pause{Task: Echo.Name()}))
	late, err := Echo.Using(localtasks.WithStartWithin(time.Minute)).Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	intime, err := Echo.Using(localtasks.WithDeadline(Epoch.Add(time.Hour))).Enqueue(f.ctx, f.b, EchoArgs{N: 2})
	require.NoError(t, err)
	require.Equal(t, Epoch.Add(time.Minute), result(t, f.ctx, f.b, late.ID()).Deadline)
	f.clock.Advance(time.Minute)
	res := f.finish(t, late.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Contains(t, res.CancelReason, "deadline passed")
	require.Zero(t, res.Attempts)
	require.Equal(t, uint64(1), f.c.Counters().DeadlinePassed)

	require.NoError(t, f.p.Resume(f.ctx, localtasks.Pause{Task: Echo.Name()}))
	require.Equal(t, localtasks.StatusSuccessful, f.finish(t, intime.ID()).Status)
	f.clock.Advance(2 * time.Hour) // its deadline's timer, if left, would find it finished
	require.Equal(t, localtasks.StatusSuccessful, result(t, f.ctx, f.b, intime.ID()).Status)
	require.NoError(t, f.c.Drain(f.ctx))
}

// testDeadlineScheduled: WithStartWithin counts from the run-after time.
func testDeadlineScheduled(t *testing.T, h *harness) {
	f := newPauseFixture(t, h, nil)
	within := Echo.Using(localtasks.WithDelay(time.Hour), localtasks.WithStartWithin(time.Minute))
	runs, err := within.Enqueue(f.ctx, f.b, EchoArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, Epoch.Add(time.Hour+time.Minute), result(t, f.ctx, f.b, runs.ID()).Deadline)
	f.clock.Advance(time.Hour)
	require.Equal(t, localtasks.StatusSuccessful, f.finish(t, runs.ID()).Status)

	require.NoError(t, f.p.Pause(f.ctx, localtasks.Pause{Queue: localtasks.QueueDefault}))
	missed, err := within.Enqueue(f.ctx, f.b, EchoArgs{N: 2})
	require.NoError(t, err)
	f.clock.Advance(time.Hour + time.Minute)
	res := f.finish(t, missed.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Contains(t, res.CancelReason, "deadline passed")
	require.NoError(t, f.p.Resume(f.ctx, localtasks.Pause{Queue: localtasks.QueueDefault}))
	require.NoError(t, f.c.Drain(f.ctx))
}
