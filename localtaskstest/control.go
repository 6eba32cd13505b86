package localtaskstest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// The conformance cases of strikes on every task and of limits shared by
// tasks or stacked on one.

// The control cases' tasks.
var (
	// Grouped and GroupedOther wait until their ctx is done: one run per
	// Customer at a time across both, whose limits name one group.
	Grouped = localtasks.Define("localtaskstest.grouped", func(ctx context.Context, a CustomerArgs) (int, error) {
		<-ctx.Done()
		return a.Customer, ctx.Err()
	}, localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer", Group: GroupName}))
	GroupedOther = localtasks.Define("localtaskstest.grouped-other", func(ctx context.Context, a ControlArgs) (int, error) {
		<-ctx.Done()
		return a.Customer, ctx.Err()
	}, localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer", Group: GroupName}))
	// TwoCooldowns returns its customer; an enqueue within a minute of an
	// accepted one of the same Customer, or of the same Note, is dropped.
	TwoCooldowns = localtasks.Define("localtaskstest.two-cooldowns", customer,
		localtasks.WithCooldown(localtasks.Cooldown{Window: time.Minute, Per: "Customer"}),
		localtasks.WithCooldown(localtasks.Cooldown{Window: time.Minute, Per: "Note"}))
	// Control returns its customer. Its N is a string, where Echo's and
	// Tick's are ints: a strike on every task by N compares with one or
	// the other.
	Control = localtasks.Define("localtaskstest.control", func(ctx context.Context, a ControlArgs) (int, error) {
		return a.Customer, nil
	})
)

// GroupName is the concurrency limit group of Grouped and GroupedOther.
const GroupName = "localtaskstest.customers"

// ControlArgs is the argument of GroupedOther and Control.
type ControlArgs struct {
	Customer int
	N        string
}

func (h *harness) controlCases() []testCase {
	var cs []testCase
	if h.strikes {
		cs = append(cs, testCase{"StrikeEveryTaskAtEnqueue", testStrikeEveryTaskAtEnqueue})
		if h.runs && h.caps.Defer && h.caps.Cancel {
			cs = append(cs, testCase{"StrikeEveryTaskBeforeRun", testStrikeEveryTaskBeforeRun})
		}
	}
	if h.runs && h.caps.Limits && h.caps.CancelRunning && h.events && h.snapshots {
		cs = append(cs, testCase{"LimitGroup", testLimitGroup})
	}
	if h.caps.Limits && h.caps.Defer {
		cs = append(cs, testCase{"SeveralCooldowns", testSeveralCooldowns})
	}
	return cs
}

func testStrikeEveryTaskAtEnqueue(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	c := as[localtasks.Striker](t, b)
	st := localtasks.Strike{Field: "N", Op: localtasks.OpEqual, Value: 7}
	require.NoError(t, c.Strike(st))
	require.Equal(t, []localtasks.Strike{st}, c.Strikes())

	hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: 7})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, hd.Disposition())
	res := result(t, ctx, b, hd.ID())
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Equal(t, "struck: any task where N == 7", res.CancelReason)
	ok, err := Echo.Enqueue(ctx, b, EchoArgs{N: 8})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, ok.Disposition(), "another value")
	other, err := Control.Enqueue(ctx, b, ControlArgs{N: "7"})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, other.Disposition(), "a string N does not compare with 7: untouched")
	none, err := Info.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, none.Disposition(), "a task without the field: untouched")

	require.NoError(t, c.Restore(localtasks.Strike{Field: "N", Op: localtasks.OpEqual, Value: 7.0}), "restored by its converted value")
	require.Empty(t, c.Strikes())
	again, err := Echo.Enqueue(ctx, b, EchoArgs{N: 7})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())

	for _, bad := range []localtasks.Strike{{}, {Field: "NoTaskHasThis", Op: localtasks.OpEqual, Value: 1}} {
		require.ErrorIs(t, c.Strike(bad), localtasks.ErrInvalidTask, "%+v", bad)
	}
	require.Empty(t, c.Strikes())
}

func testStrikeEveryTaskBeforeRun(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	c := as[localtasks.Striker](t, b)
	echo, err := Echo.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, EchoArgs{N: 7})
	require.NoError(t, err)
	ctl, err := Control.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, ControlArgs{Customer: 3, N: "7"})
	require.NoError(t, err)
	require.NoError(t, c.Strike(localtasks.Strike{Field: "N", Op: localtasks.OpBetween, Value: 5, Upper: 10}))

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	_, err = echo.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled, "a run queued before the strike is struck when it would start")
	require.Equal(t, "struck before it started: any task where N between 5 and 10", result(t, ctx, b, echo.ID()).CancelReason)
	v, err := ctl.Wait(ctx)
	require.NoError(t, err, "another task's N of another type runs")
	require.Equal(t, 3, v)
}

func testLimitGroup(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	a1, err := Grouped.Enqueue(ctx, b, CustomerArgs{Customer: 1})
	require.NoError(t, err)
	started(t, ctx, sub, a1.ID())
	b1, err := GroupedOther.Enqueue(ctx, b, ControlArgs{Customer: 1})
	require.NoError(t, err)
	b2, err := GroupedOther.Enqueue(ctx, b, ControlArgs{Customer: 2})
	require.NoError(t, err)
	started(t, ctx, sub, b2.ID()) // another customer: its own budget
	require.Equal(t, localtasks.StatusReady, result(t, ctx, b, b1.ID()).Status, "b1 waits for a1, a run of another task of its group")
	require.NoError(t, a1.Cancel(ctx))
	started(t, ctx, sub, b1.ID())
	for _, hd := range []localtasks.Handle[int]{b1, b2} {
		require.NoError(t, hd.Cancel(ctx))
	}
	require.NoError(t, as[localtasks.Drainer](t, b).Drain(ctx))

	// A limit of the group that gives it another budget is refused.
	_, err = Echo.Using(localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 2, Per: "N", Group: GroupName})).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "same Max")
}

func testSeveralCooldowns(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	enqueue := func(customer int, note string, want localtasks.Disposition) {
		t.Helper()
		hd, err := TwoCooldowns.Enqueue(ctx, b, CustomerArgs{Customer: customer, Note: note})
		require.NoError(t, err)
		require.Equal(t, want, hd.Disposition(), "customer %d, note %q", customer, note)
	}
	enqueue(1, "a", localtasks.Enqueued)
	enqueue(1, "b", localtasks.Dropped)  // customer 1's window
	enqueue(2, "a", localtasks.Dropped)  // note a's window
	enqueue(2, "b", localtasks.Enqueued) // the drops above opened no window
	clock.Advance(time.Minute)
	enqueue(1, "a", localtasks.Enqueued)
}
