package localtaskstest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// The conformance cases of periodic work: a custom Schedule, RunOnStart,
// and the automatic chain a backend starts again when its run is cancelled.

// steps is a Schedule of fixed times: the first after the time given,
// then none.
type steps []time.Time

func (s steps) Next(t time.Time) time.Time {
	for _, at := range s {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// stuck is a Schedule whose Next returns the time it was given.
type stuck struct{}

func (stuck) Next(t time.Time) time.Time { return t }

// RestartArgs is the argument of Restartable.
type RestartArgs struct {
	Stop bool // call StopPerpetual first
}

var (
	// periodicTimes are the times of Periodic's runs, after Epoch.
	periodicTimes = steps{Epoch.Add(time.Minute), Epoch.Add(3 * time.Minute), Epoch.Add(7 * time.Minute)}

	// Periodic runs at periodicTimes, a Schedule, and returns its run ID.
	Periodic = localtasks.Define("localtaskstest.periodic", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Schedule: periodicTimes}))

	// OnStart is automatic on AutomaticQueue, every five minutes by cron,
	// and runs once as its chain starts.
	OnStart = localtasks.Define("localtaskstest.on-start", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Cron: "*/5 * * * *", Automatic: true, RunOnStart: true}),
		localtasks.WithQueue(AutomaticQueue))

	// Restartable is automatic on AutomaticQueue, hourly: each run waits
	// until it is cancelled, after StopPerpetual if Stop.
	Restartable = localtasks.Define("localtaskstest.restartable", func(ctx context.Context, a RestartArgs) (int, error) {
		if a.Stop {
			if err := localtasks.StopPerpetual(ctx); err != nil {
				return 0, err
			}
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour, Automatic: true}), localtasks.WithQueue(AutomaticQueue))
)

func (h *harness) periodicCases() []testCase {
	cs := []testCase{{"PeriodicBadInput", testPeriodicBadInput}}
	if !h.runs || !h.caps.Perpetual || !h.caps.Defer || !h.snapshots {
		return cs
	}
	cs = append(cs, testCase{"PeriodicSchedule", testPeriodicSchedule}, testCase{"PeriodicRunOnStart", testPeriodicRunOnStart})
	if h.caps.Cancel && h.caps.CancelRunning && h.events && h.strikes {
		cs = append(cs, testCase{"AutomaticChainStartsAgain", testAutomaticChainStartsAgain})
	}
	return cs
}

func testPeriodicBadInput(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	perp := func(p localtasks.Perpetual) *localtasks.Task[EchoArgs, EchoArgs] {
		return Echo.Using(localtasks.WithPerpetual(p))
	}
	cases := []struct {
		name string
		task *localtasks.Task[EchoArgs, EchoArgs]
		want string
	}{
		{"schedule and interval", perp(localtasks.Perpetual{Every: time.Minute, Schedule: periodicTimes}), "give one of Every, Cron and Schedule"},
		{"schedule and cron", perp(localtasks.Perpetual{Cron: "@daily", Schedule: periodicTimes}), "give one of Every, Cron and Schedule"},
		{"location without cron", perp(localtasks.Perpetual{Every: time.Minute, Location: time.UTC}), "Location is the time zone Cron is read in"},
		{"run on start without a schedule", perp(localtasks.Perpetual{RunOnStart: true}), "give Every, Cron or Schedule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hd, err := c.task.Enqueue(ctx, b, EchoArgs{})
			require.ErrorIs(t, err, localtasks.ErrInvalidTask)
			require.ErrorContains(t, err, c.want)
			require.Empty(t, hd.ID())
		})
	}
	if !h.caps.Perpetual {
		for _, task := range []*localtasks.Task[struct{}, string]{Periodic, OnStart.Using(localtasks.WithQueue(localtasks.QueueDefault))} {
			_, err := task.Enqueue(ctx, b, struct{}{})
			require.ErrorIs(t, err, errors.ErrUnsupported, "a Schedule or RunOnStart on a backend without perpetual tasks")
			require.ErrorContains(t, err, "remove WithPerpetual")
		}
		return
	}
	// A Schedule is called at Enqueue, for the first run.
	for name, c := range map[string]struct {
		sched localtasks.Schedule
		want  string
	}{
		"no time":          {steps{Epoch}, "names no time after"},
		"a time not after": {stuck{}, "which is not after it"},
	} {
		hd, err := perp(localtasks.Perpetual{Schedule: c.sched}).Enqueue(ctx, b, EchoArgs{})
		require.ErrorIs(t, err, localtasks.ErrInvalidTask, name)
		require.ErrorContains(t, err, c.want, name)
		require.Empty(t, hd.ID(), name)
	}
}

// A chain runs at the times its Schedule names, and ends when it names no
// more.
func testPeriodicSchedule(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	c := as[snapshotDrainer](t, b)
	hd, err := Periodic.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	id := hd.ID()
	for i, at := range periodicTimes {
		res := result(t, ctx, b, id)
		require.Equal(t, localtasks.StatusScheduled, res.Status, "run %d", i)
		require.Equal(t, at, res.RunAfter, "run %d at the time the Schedule names", i)
		require.NoError(t, clock.BlockUntil(ctx, 1))
		clock.Advance(at.Sub(clock.Now()))
		res, err := b.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, id, res.Value)
		if i == len(periodicTimes)-1 {
			break
		}
		snap := snapshotOf(t, c)
		require.Len(t, snap.Scheduled, 1, "the next run, once this one ended")
		id = snap.Scheduled[0].ID
	}
	require.NoError(t, c.Drain(ctx), "the Schedule names no more times: the chain ended")
	snap := snapshotOf(t, c)
	require.Equal(t, uint64(3), snap.Counters.Succeeded)
	require.Equal(t, uint64(2), snap.Counters.Perpetuated)
}

// An automatic cron task with RunOnStart runs as the backend starts it,
// then at the times its expression names.
func testPeriodicRunOnStart(t *testing.T, h *harness) {
	clock := NewFakeClock(Epoch)
	b := h.newBackend(t, localtasks.Config{Queues: []string{localtasks.QueueDefault, AutomaticQueue}, Automatic: []string{OnStart.Name()},
		Test: localtasks.TestConfig{Clock: clock, RunAtMost: map[string]int{OnStart.Name(): 2}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { require.NoError(t, b.Close(ctx)) }()
	c := as[snapshotDrainer](t, b)

	// The first run needs no time to pass; the timer is the second's.
	require.NoError(t, clock.BlockUntil(ctx, 1))
	snap := snapshotOf(t, c)
	require.Equal(t, uint64(1), snap.Counters.Succeeded, "the first run ran at once")
	require.Len(t, snap.Scheduled, 1)
	at := Epoch.Truncate(5 * time.Minute).Add(5 * time.Minute)
	require.Equal(t, at, snap.Scheduled[0].RunAfter, "the second at the next time the expression names")
	clock.Advance(at.Sub(Epoch))
	require.NoError(t, c.Drain(ctx))
	require.Equal(t, uint64(2), snapshotOf(t, c).Counters.Succeeded)
}

// The automatic chain a backend started is started again, at its next
// time, when its run is cancelled, queued or running; Replace hands it on;
// StopPerpetual and a strike end it for good.
func testAutomaticChainStartsAgain(t *testing.T, h *harness) {
	clock := NewFakeClock(Epoch)
	b := h.newBackend(t, localtasks.Config{Queues: []string{localtasks.QueueDefault, AutomaticQueue}, Automatic: []string{Restartable.Name()},
		Test: localtasks.TestConfig{Clock: clock}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { require.NoError(t, b.Close(ctx)) }()
	c := as[strikeSnapshotDrainer](t, b)
	sub := subscribe(t, b)

	// unfinished returns the one unfinished run of the chain.
	unfinished := func() localtasks.TaskResult {
		t.Helper()
		snap := snapshotOf(t, c)
		runs := slices.Concat(snap.Queued, snap.Scheduled, snap.Running)
		require.Len(t, runs, 1, "one run of the chain, never two")
		require.Equal(t, Restartable.Name(), runs[0].Key)
		return runs[0]
	}
	cut := func(id string) localtasks.TaskResult {
		t.Helper()
		require.NoError(t, b.Cancel(ctx, id))
		res, err := b.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		return res
	}

	// The first run, started with the backend, is cut: queued or running.
	first := unfinished()
	cut(first.ID)
	second := unfinished()
	require.NotEqual(t, first.ID, second.ID)
	require.Equal(t, localtasks.StatusScheduled, second.Status)
	require.Equal(t, clock.Now().Add(time.Hour), second.RunAfter, "at its next time, not at once")
	require.Equal(t, RestartArgs{}, second.Args, "with the zero argument")

	// Cut while it runs.
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	started(t, ctx, sub, second.ID)
	cut(second.ID)
	third := unfinished()
	require.Equal(t, localtasks.StatusScheduled, third.Status)
	require.Equal(t, clock.Now().Add(time.Hour), third.RunAfter)
	require.Equal(t, uint64(2), snapshotOf(t, c).Counters.Perpetuated, "the chain's runs count as its own")

	// Replace hands the chain on: the run it swaps out does not start it
	// again. The new run stops the chain, and a cut then ends it.
	stopper, err := Restartable.Replace(ctx, b, Restartable.Name(), RestartArgs{Stop: true})
	require.NoError(t, err)
	require.Equal(t, localtasks.Replaced, stopper.Disposition())
	require.Equal(t, localtasks.StatusCancelled, result(t, ctx, b, third.ID).Status)
	require.Equal(t, stopper.ID(), unfinished().ID)
	started(t, ctx, sub, stopper.ID())
	cut(stopper.ID())
	require.NoError(t, c.Drain(ctx), "StopPerpetual ended the chain, cut or not")

	// A strike ends it for good, and Restore does not bring it back.
	again, err := Restartable.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, RestartArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	strike := localtasks.Strike{Task: Restartable.Name()}
	require.NoError(t, c.Strike(strike))
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	res, err := b.Wait(ctx, again.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Contains(t, res.CancelReason, "struck")
	require.NoError(t, c.Drain(ctx), "the strike ended the chain")
	require.NoError(t, c.Restore(strike))
	snap := snapshotOf(t, c)
	require.Empty(t, slices.Concat(snap.Queued, snap.Scheduled, snap.Running))
	require.Equal(t, uint64(2), snap.Counters.Perpetuated)
}
