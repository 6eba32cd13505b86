package localtaskstest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// The conformance cases of the scheduling features: keys, strikes,
// perpetual and cron tasks, limits, snapshots and Drain.

func (h *harness) schedulingCases() []testCase {
	cs := []testCase{{"BadSchedulingInput", testBadSchedulingInput}}
	if !h.runs || h.caps.CancelRunning {
		// A backend that runs a task inside Enqueue frees its key before
		// Enqueue returns: see KeyFreedWhenFinished.
		cs = append(cs, testCase{"KeyDuplicate", testKeyDuplicate})
	}
	if h.strikes {
		cs = append(cs, testCase{"StrikeAtEnqueue", testStrikeAtEnqueue})
	}
	if !h.runs {
		return cs
	}
	cs = append(cs, testCase{"KeyFreedWhenFinished", testKeyFreedWhenFinished})
	if h.caps.Defer && h.caps.Cancel {
		cs = append(cs, testCase{"Replace", testReplace})
		if h.strikes {
			cs = append(cs, testCase{"StrikeBeforeRun", testStrikeBeforeRun})
		}
	}
	if h.caps.CancelRunning {
		cs = append(cs, testCase{"KeyRunning", testKeyRunning})
	}
	if !h.caps.Limits {
		cs = append(cs, testCase{"LimitsUnsupported", testLimitsUnsupported})
	}
	if h.caps.Limits && h.caps.CancelRunning && h.snapshots {
		cs = append(cs, testCase{"ConcurrencyLimit", testConcurrencyLimit})
	}
	if h.caps.Limits && h.caps.Defer {
		cs = append(cs,
			testCase{"RateLimit", testRateLimit},
			testCase{"RateLimitDrop", testRateLimitDrop},
			testCase{"Debounce", testDebounce},
			testCase{"Cooldown", testCooldown})
	}
	if h.caps.Perpetual && h.caps.Defer && h.events && h.snapshots {
		cs = append(cs, testCase{"Perpetual", testPerpetual}, testCase{"CronAutomatic", testCronAutomatic})
	}
	if h.strikes && h.snapshots && h.caps.CancelRunning && h.caps.Defer {
		cs = append(cs, testCase{"SnapshotAndDrain", testSnapshotAndDrain})
	}
	return cs
}

// The optional interfaces some cases need together.
type (
	snapshotDrainer interface {
		localtasks.Snapshotter
		localtasks.Drainer
	}
	strikeSnapshotDrainer interface {
		localtasks.Striker
		snapshotDrainer
	}
)

// as returns b's side of the optional interface I, which the case's gate
// in schedulingCases checked.
func as[I any](t *testing.T, b localtasks.Backend) I {
	t.Helper()
	i, ok := b.(I)
	require.True(t, ok, "%T implements %v", b, reflect.TypeFor[I]())
	return i
}

// result returns the run's snapshot.
func result(t *testing.T, ctx context.Context, b localtasks.Backend, id string) localtasks.TaskResult {
	t.Helper()
	res, err := b.GetResult(ctx, id)
	require.NoError(t, err)
	return res
}

// waitFor returns the first event of sub that ok accepts.
func waitFor(t *testing.T, ctx context.Context, sub *localtasks.Subscription, what string, ok func(localtasks.Event) bool) localtasks.Event {
	t.Helper()
	for {
		select {
		case ev, open := <-sub.C():
			require.True(t, open, "subscription closed while waiting for %s", what)
			if ok(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

func testKeyDuplicate(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	keyed := Block.Using(localtasks.WithKey("order-7"))
	first, err := keyed.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, first.Disposition())
	second, err := keyed.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, second.Disposition())
	require.Equal(t, first.ID(), second.ID(), "the handle is the existing run's")
	require.Equal(t, "order-7", result(t, ctx, b, first.ID()).Key)

	other, err := Block.Using(localtasks.WithKey("order-8")).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, other.Disposition(), "another key is another run")
	require.NotEqual(t, first.ID(), other.ID())
	echo, err := Echo.Using(localtasks.WithKey("order-7")).Enqueue(ctx, b, EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, echo.Disposition(), "keys are per task")
	for _, hd := range []localtasks.Handle[struct{}]{first, other} {
		require.NoError(t, hd.Cancel(ctx))
	}
}

func testKeyFreedWhenFinished(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	keyed := Echo.Using(localtasks.WithKey("k"))
	first, err := keyed.Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	_, err = first.Wait(ctx)
	require.NoError(t, err)
	second, err := keyed.Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, second.Disposition(), "a key is free once its run finished")
	require.NotEqual(t, first.ID(), second.ID())
	v, err := second.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v.N)
}

func testKeyRunning(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	keyed := Block.Using(localtasks.WithKey("busy"))
	first, err := keyed.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	if sub != nil {
		started(t, ctx, sub, first.ID())
	}
	again, err := Block.Replace(ctx, b, "busy", struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, again.Disposition(), "a running run cannot be replaced")
	require.Equal(t, first.ID(), again.ID())
	require.NoError(t, first.Cancel(ctx))
	_, err = b.Wait(ctx, first.ID())
	require.NoError(t, err)
	next, err := keyed.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, next.Disposition(), "the key is free once the run ended CANCELLED")
	require.NoError(t, next.Cancel(ctx))
}

func testReplace(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	later := Echo.Using(localtasks.WithDelay(time.Minute))
	old, err := later.Using(localtasks.WithKey("report")).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	repl, err := later.Replace(ctx, b, "report", EchoArgs{N: 2})
	require.NoError(t, err)
	require.Equal(t, localtasks.Replaced, repl.Disposition())
	require.NotEqual(t, old.ID(), repl.ID())

	res := result(t, ctx, b, old.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status, "the superseded run ended at once")
	require.Contains(t, res.CancelReason, repl.ID())
	_, err = old.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)

	dup, err := later.Using(localtasks.WithKey("report")).Enqueue(ctx, b, EchoArgs{N: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition(), "the new run holds the key")
	require.Equal(t, repl.ID(), dup.ID())

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	v, err := repl.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v.N)
	require.Zero(t, result(t, ctx, b, old.ID()).Attempts, "the superseded run never executed")

	fresh, err := Echo.Replace(ctx, b, "report", EchoArgs{N: 4})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, fresh.Disposition(), "Replace of a free key enqueues")
	_, err = fresh.Wait(ctx)
	require.NoError(t, err)
}

func testStrikeAtEnqueue(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	c := as[localtasks.Striker](t, b)
	st := localtasks.Strike{Task: Echo.Name(), Field: "N", Op: localtasks.OpEqual, Value: 13}
	require.NoError(t, c.Strike(st))
	require.NoError(t, c.Strike(st), "striking twice is striking once")
	require.Equal(t, []localtasks.Strike{st}, c.Strikes())

	hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: 13})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, hd.Disposition())
	res := result(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Contains(t, res.CancelReason, "N == 13")
	require.Zero(t, res.Attempts)

	ok, err := Echo.Enqueue(ctx, b, EchoArgs{N: 12})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, ok.Disposition(), "other values pass")

	require.NoError(t, c.Restore(st))
	require.Empty(t, c.Strikes())
	require.Error(t, c.Restore(st), "restoring what is not struck")
	again, err := Echo.Enqueue(ctx, b, EchoArgs{N: 13})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	require.Equal(t, localtasks.StatusCancelled, result(t, ctx, b, hd.ID()).Status, "Restore does not revive")

	whole := localtasks.Strike{Task: Flaky.Name()}
	require.NoError(t, c.Strike(whole))
	fl, err := Flaky.Enqueue(ctx, b, FlakyArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, fl.Disposition())
	require.NoError(t, c.Restore(whole))

	// The subtests run one after another, before the check below that
	// none of them struck anything.
	for _, bad := range []struct {
		name string
		st   localtasks.Strike
	}{
		{"unknown operator", localtasks.Strike{Task: Echo.Name(), Field: "N", Op: "=~", Value: 1}},
		{"unknown field", localtasks.Strike{Task: Echo.Name(), Field: "Missing", Op: localtasks.OpEqual, Value: 1}},
		{"value of another type", localtasks.Strike{Task: Echo.Name(), Field: "N", Op: localtasks.OpEqual, Value: "one"}},
		{"between with its bounds reversed", localtasks.Strike{Task: Echo.Name(), Field: "N", Op: localtasks.OpBetween, Value: 5, Upper: 1}},
		{"undefined task", localtasks.Strike{Task: "localtaskstest.no-such-task"}},
		{"neither task nor field", localtasks.Strike{Op: localtasks.OpEqual, Value: 1}},
		{"no task has the field", localtasks.Strike{Field: "NoTaskHasThis", Op: localtasks.OpEqual, Value: 1}},
	} {
		t.Run("refused: "+bad.name, func(t *testing.T) {
			require.ErrorIs(t, c.Strike(bad.st), localtasks.ErrInvalidTask, "%+v", bad.st)
		})
	}
	require.Empty(t, c.Strikes(), "a refused strike changes nothing")
}

func testStrikeBeforeRun(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	c := as[localtasks.Striker](t, b)
	later := Echo.Using(localtasks.WithDelay(time.Minute))
	hit, err := later.Enqueue(ctx, b, EchoArgs{N: 5, Text: "hit"})
	require.NoError(t, err)
	miss, err := later.Enqueue(ctx, b, EchoArgs{N: 50, Text: "miss"})
	require.NoError(t, err)
	st := localtasks.Strike{Task: Echo.Name(), Field: "N", Op: localtasks.OpBetween, Value: 1, Upper: 10}
	require.NoError(t, c.Strike(st))

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	_, err = hit.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled, "struck when it would run, not held back")
	res := result(t, ctx, b, hit.ID())
	require.Contains(t, res.CancelReason, "struck")
	require.Zero(t, res.Attempts)
	v, err := miss.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 50, v.N)

	require.NoError(t, c.Restore(st))
	require.Equal(t, localtasks.StatusCancelled, result(t, ctx, b, hit.ID()).Status, "Restore does not revive")
}

func testBadSchedulingInput(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	cases := []struct {
		name string
		task *localtasks.Task[EchoArgs, EchoArgs]
		want string
	}{
		{"key too long", Echo.Using(localtasks.WithKey(strings.Repeat("k", localtasks.MaxKeyLength+1))), "MaxKeyLength"},
		{"key with a control character", Echo.Using(localtasks.WithKey("a\nb")), "control character"},
		{"concurrency limit of 0", Echo.Using(localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{})), "below 1"},
		{"rate limit of -1", Echo.Using(localtasks.WithRateLimit(localtasks.RateLimit{Max: -1, Period: time.Second})), "below 1"},
		{"rate limit without a period", Echo.Using(localtasks.WithRateLimit(localtasks.RateLimit{Max: 1})), "period"},
		{"cron with a bad minute", Echo.Using(localtasks.WithCron("61 * * * *", nil)), "minute"},
		{"cron that names no time", Echo.Using(localtasks.WithCron("0 0 30 2 *", nil)), "names no time"},
		{"perpetual with both", Echo.Using(localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute, Cron: "@daily"})), "both"},
	}
	if h.caps.Limits {
		cases = append(cases, struct {
			name string
			task *localtasks.Task[EchoArgs, EchoArgs]
			want string
		}{"limit per a missing field", Echo.Using(localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer"})), "no exported field"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hd, err := c.task.Enqueue(ctx, b, EchoArgs{})
			require.ErrorIs(t, err, localtasks.ErrInvalidTask, c.name)
			require.ErrorContains(t, err, c.want, c.name)
			require.Empty(t, hd.ID(), c.name)
		})
	}
	_, err := Echo.Replace(ctx, b, "", EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask, "Replace without a key")
}

func testLimitsUnsupported(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	_, err := Limited.Enqueue(ctx, b, CustomerArgs{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	if !h.caps.Perpetual {
		_, err = Tick.Enqueue(ctx, b, TickArgs{})
		require.ErrorIs(t, err, errors.ErrUnsupported)
	}
}

func testConcurrencyLimit(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	require.NotNil(t, sub, "a backend with limits delivers events")
	enqueue := func(customer int, note string) localtasks.Handle[int] {
		hd, err := Limited.Enqueue(ctx, b, CustomerArgs{Customer: customer, Note: note})
		require.NoError(t, err)
		return hd
	}
	a1, a2, b1, a3 := enqueue(1, "a1"), enqueue(1, "a2"), enqueue(2, "b1"), enqueue(1, "a3")
	names := map[string]string{a1.ID(): "a1", a2.ID(): "a2", b1.ID(): "b1", a3.ID(): "a3"}
	// Events come in the order things happened: the log shows whether a
	// run of customer 1 started while another ran.
	var log []string
	// expect checks that the next starts and ends of these runs are want,
	// in order or, with anyOrder, in any order.
	expect := func(anyOrder bool, want ...string) {
		t.Helper()
		var got []string
		for range want {
			ev := waitFor(t, ctx, sub, "start or end of a run", func(ev localtasks.Event) bool {
				return (ev.Kind == localtasks.EventStarted || ev.Kind == localtasks.EventFinished) && names[ev.Result.ID] != ""
			})
			got = append(got, ev.Kind.String()+" "+names[ev.Result.ID])
		}
		log = append(log, got...)
		if anyOrder {
			require.ElementsMatch(t, want, got, "log: %v", log)
		} else {
			require.Equal(t, want, got, "log: %v", log)
		}
	}
	expect(true, "started a1", "started b1")
	require.NoError(t, a1.Cancel(ctx))
	expect(false, "finished a1", "started a2") // not a3, which came later
	require.Equal(t, localtasks.StatusReady, result(t, ctx, b, a3.ID()).Status, "a3 waits for customer 1's slot")
	require.NoError(t, a2.Cancel(ctx))
	expect(false, "finished a2", "started a3")
	for _, hd := range []localtasks.Handle[int]{a3, b1} {
		require.NoError(t, hd.Cancel(ctx))
	}
	require.NoError(t, as[localtasks.Drainer](t, b).Drain(ctx))
}

func testRateLimit(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	var hs []localtasks.Handle[int]
	for range 3 {
		hd, err := Rated.Enqueue(ctx, b, CustomerArgs{Customer: 1})
		require.NoError(t, err)
		hs = append(hs, hd)
	}
	other, err := Rated.Enqueue(ctx, b, CustomerArgs{Customer: 2})
	require.NoError(t, err)
	for _, hd := range append(hs[:2:2], other) {
		_, err := hd.Wait(ctx)
		require.NoError(t, err, "within the rate")
	}
	require.NoError(t, clock.BlockUntil(ctx, 1), "the third is rescheduled")
	res := result(t, ctx, b, hs[2].ID())
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Minute), res.RunAfter, "to when a start is free")
	clock.Advance(time.Minute)
	v, err := hs[2].Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	require.Equal(t, Epoch.Add(time.Minute), result(t, ctx, b, hs[2].ID()).StartedAt)
}

func testRateLimitDrop(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	var hs []localtasks.Handle[int]
	for range 3 {
		hd, err := RatedDrop.Enqueue(ctx, b, CustomerArgs{Customer: 1})
		require.NoError(t, err)
		hs = append(hs, hd)
	}
	var done, dropped int
	for _, hd := range hs {
		_, err := hd.Wait(ctx)
		if errors.Is(err, localtasks.ErrCancelled) {
			dropped++
			require.Contains(t, result(t, ctx, b, hd.ID()).CancelReason, "rate limit")
			continue
		}
		require.NoError(t, err)
		done++
	}
	require.Equal(t, 2, done)
	require.Equal(t, 1, dropped, "the run over the limit ends CANCELLED")
}

func testDebounce(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	var hs []localtasks.Handle[int]
	for i := range 3 {
		hd, err := Debounced.Enqueue(ctx, b, CustomerArgs{Customer: 1})
		require.NoError(t, err)
		if i > 0 {
			require.Equal(t, localtasks.Replaced, hd.Disposition())
		}
		hs = append(hs, hd)
	}
	other, err := Debounced.Enqueue(ctx, b, CustomerArgs{Customer: 2})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, other.Disposition(), "another customer is another burst")
	for _, hd := range hs[:2] {
		res := result(t, ctx, b, hd.ID())
		require.Equal(t, localtasks.StatusCancelled, res.Status)
		require.Contains(t, res.CancelReason, "debounced")
	}
	last := result(t, ctx, b, hs[2].ID())
	require.Equal(t, localtasks.StatusScheduled, last.Status)
	require.Equal(t, Epoch.Add(time.Minute), last.RunAfter)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	for _, hd := range []localtasks.Handle[int]{hs[2], other} {
		_, err := hd.Wait(ctx)
		require.NoError(t, err, "the last of each burst runs")
	}
}

func testCooldown(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	first, err := Cooled.Enqueue(ctx, b, CustomerArgs{Customer: 1})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, first.Disposition())
	dup, err := Cooled.Enqueue(ctx, b, CustomerArgs{Customer: 2})
	require.NoError(t, err)
	require.Equal(t, localtasks.Dropped, dup.Disposition())
	res := result(t, ctx, b, dup.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Contains(t, res.CancelReason, "cooldown")
	_, err = first.Wait(ctx)
	require.NoError(t, err)

	clock.Advance(time.Minute)
	next, err := Cooled.Enqueue(ctx, b, CustomerArgs{Customer: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, next.Disposition(), "the window has passed")
	v, err := next.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v)
}

func testPerpetual(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	hd, err := Tick.Enqueue(ctx, b, TickArgs{N: 1, Last: 3, Fail: true})
	require.NoError(t, err)
	require.Equal(t, Tick.Name(), result(t, ctx, b, hd.ID()).Key, "a perpetual task's key is its name")
	dup, err := Tick.Enqueue(ctx, b, TickArgs{N: 1, Last: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition(), "one chain per task")

	id := hd.ID()
	for n := 1; n <= 3; n++ {
		res, err := b.Wait(ctx, id)
		require.NoError(t, err)
		if n == 1 {
			require.Equal(t, localtasks.StatusFailed, res.Status, "the first run fails; its chain goes on")
		} else {
			require.Equal(t, localtasks.StatusSuccessful, res.Status)
			require.Equal(t, n, res.Value, "SetNextArgs set this run's argument")
		}
		if n == 3 {
			break
		}
		ev := waitFor(t, ctx, sub, "the next run", func(ev localtasks.Event) bool {
			return ev.Kind == localtasks.EventEnqueued && ev.Result.Task == Tick.Name() && ev.Result.ID != id
		})
		require.Equal(t, localtasks.StatusScheduled, ev.Result.Status)
		require.Equal(t, res.FinishedAt.Add(time.Minute), ev.Result.RunAfter, "every minute after the run ends")
		id = ev.Result.ID
		require.NoError(t, clock.BlockUntil(ctx, 1))
		clock.Advance(time.Minute)
	}
	c := as[snapshotDrainer](t, b)
	require.NoError(t, c.Drain(ctx), "StopPerpetual ended the chain")
	require.Equal(t, uint64(2), snapshotOf(t, c).Counters.Perpetuated)
	again, err := Tick.Enqueue(ctx, b, TickArgs{N: 3, Last: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition(), "the key is free once the chain ended")
	_, err = again.Wait(ctx)
	require.NoError(t, err)
}

func testCronAutomatic(t *testing.T, h *harness) {
	clock := NewFakeClock(Epoch)
	b := h.newBackend(t, localtasks.Config{Queues: []string{localtasks.QueueDefault, AutomaticQueue}, Automatic: []string{Cron.Name()},
		Test: localtasks.TestConfig{Clock: clock, RunAtMost: map[string]int{Cron.Name(): 2}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { require.NoError(t, b.Close(ctx)) }()
	c := as[snapshotDrainer](t, b)

	snap := snapshotOf(t, c)
	require.Len(t, snap.Scheduled, 1, "the automatic task Config.Automatic names started with the backend")
	first := snap.Scheduled[0]
	require.Equal(t, Cron.Name(), first.Task)
	require.Equal(t, Cron.Name(), first.Key)
	at := Epoch.Truncate(5 * time.Minute).Add(5 * time.Minute)
	require.Equal(t, at, first.RunAfter, "at the next time the expression names")
	dup, err := Cron.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition(), "never two chains")
	require.Equal(t, first.ID, dup.ID())

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(at.Sub(Epoch))
	res, err := b.Wait(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, first.ID, res.Value)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	snap = snapshotOf(t, c)
	require.Len(t, snap.Scheduled, 1)
	require.Equal(t, at.Add(5*time.Minute), snap.Scheduled[0].RunAfter)
	clock.Advance(5 * time.Minute)
	require.NoError(t, c.Drain(ctx), "RunAtMost ends the chain after two runs")
	snap = snapshotOf(t, c)
	require.Equal(t, uint64(2), snap.Counters.Succeeded)
	require.Equal(t, uint64(1), snap.Counters.Perpetuated)
}

func testSnapshotAndDrain(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	c := as[strikeSnapshotDrainer](t, b)
	sub := subscribe(t, b)
	running, err := Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	started(t, ctx, sub, running.ID())
	later, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	done, err := Echo.Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)
	_, err = done.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Strike(localtasks.Strike{Task: Flaky.Name()}))

	snap := snapshotOf(t, c)
	require.Len(t, snap.Running, 1)
	run := snap.Running[0]
	require.Equal(t, running.ID(), run.ID)
	require.False(t, run.LastAttemptedAt.IsZero(), "with its start time")
	require.Len(t, snap.Scheduled, 1)
	require.Equal(t, later.ID(), snap.Scheduled[0].ID)
	require.Empty(t, snap.Queued)
	require.NotEmpty(t, snap.Finished)
	require.Equal(t, done.ID(), snap.Finished[0].ID, "newest first")
	require.NotEmpty(t, snap.Workers)
	var busy int
	for _, w := range snap.Workers {
		if len(w.Running) > 0 {
			busy++
			require.Equal(t, []string{running.ID()}, w.Running)
			require.Equal(t, run.WorkerIDs[len(run.WorkerIDs)-1], w.ID)
		}
	}
	require.Equal(t, 1, busy)
	require.Len(t, snap.Strikes, 1)
	require.Equal(t, uint64(3), snap.Counters.Enqueued)
	require.GreaterOrEqual(t, snap.Counters.Started, uint64(2))
	require.Equal(t, uint64(1), snap.Counters.Succeeded)

	drained := make(chan error, 1)
	go func() { drained <- c.Drain(ctx) }()
	require.NoError(t, running.Cancel(ctx))
	require.NoError(t, later.Cancel(ctx))
	require.NoError(t, <-drained)
	snap = snapshotOf(t, c)
	require.Empty(t, snap.Running)
	require.Empty(t, snap.Scheduled)
	require.Equal(t, uint64(2), snap.Counters.Cancelled)
	var tasksDone int
	for _, w := range snap.Workers {
		tasksDone += w.TasksDone
	}
	require.GreaterOrEqual(t, tasksDone, 2, "the workers counted their runs")
}

// snapshotOf lists every run of c, on one page.
func snapshotOf(t *testing.T, c localtasks.Snapshotter) localtasks.Snapshot {
	t.Helper()
	snap, err := c.Snapshot(context.Background(), localtasks.SnapshotOptions{Limit: localtasks.SnapshotLimitMax})
	require.NoError(t, err)
	require.Empty(t, snap.NextCursor, "every run listed on one page")
	return snap
}
