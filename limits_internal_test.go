package localtasks

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	internalLimited = Define("internal.limited", func(ctx context.Context, a strikeArgs) (int64, error) {
		<-ctx.Done()
		return a.ID, ctx.Err()
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID"}))
	internalPIDless     = Define("internal.marker", func(ctx context.Context, _ struct{}) (int, error) { return 1, nil })
	internalLimitedEcho = Define("internal.limited-echo", func(ctx context.Context, a strikeArgs) (int64, error) {
		return a.ID, nil
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 2, Per: "ID"}))
)

func TestRateGate(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &gate{}
	admit := func(now time.Time) time.Time {
		at := g.nextStart(now, 2, time.Minute)
		g.grant(at, 2)
		return at
	}
	require.Equal(t, t0, admit(t0))
	require.Equal(t, t0.Add(time.Second), admit(t0.Add(time.Second)))
	require.Equal(t, t0.Add(time.Minute), admit(t0.Add(2*time.Second)), "the third waits a window after the first")
	require.Equal(t, t0.Add(time.Minute+time.Second), admit(t0.Add(3*time.Second)), "the fourth after the second")
	require.Equal(t, t0.Add(5*time.Minute), admit(t0.Add(5*time.Minute)), "a quiet window frees the rate")
	require.Len(t, g.grants, 2, "it remembers max grants at most")
}

// A limit per argument value keeps a group per value only while it is in
// use: the groups go once their runs finish.
func TestGatesAreDropped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 4})
	require.NoError(t, err)
	defer b.Close(ctx)
	for i := range 500 {
		_, err := internalLimitedEcho.Enqueue(ctx, b, strikeArgs{ID: int64(i % 50)})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Empty(t, b.s.gates)
	require.Equal(t, uint64(500), b.s.counters.Succeeded)
}

// Close cancels the runs waiting for a concurrency slot, as it does the
// queued ones.
func TestCloseCancelsWaitingRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	sub := b.Subscribe(64)
	defer sub.Close()
	var ids []string
	for range 3 {
		hd, err := internalLimited.Enqueue(ctx, b, strikeArgs{ID: 1})
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	for ev := range sub.C() {
		if ev.Kind == EventStarted {
			require.Equal(t, ids[0], ev.Result.ID)
			break
		}
	}
	// Workers take runs in order: once a run queued after the limited
	// ones has finished, the free worker has taken both and parked them.
	marker, err := internalPIDless.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = marker.Wait(ctx)
	require.NoError(t, err)
	b.s.mu.Lock()
	var waiting int
	for _, g := range b.s.gates {
		waiting += len(g.waiting)
	}
	b.s.mu.Unlock()
	require.Equal(t, 2, waiting, "both later runs wait for the slot")

	closeCtx, stop := context.WithCancel(ctx)
	stop() // give up on the running one at once
	require.Error(t, b.Close(closeCtx))
	for i, id := range ids {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusCancelled, res.Status, "run %d", i)
		require.NotEmpty(t, res.CancelReason)
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Zero(t, b.s.active, "every run finished")
}

// groupArgs has an ID of the type of strikeArgs', for runs of the two to
// share a group's budget.
type groupArgs struct{ ID int64 }

// The tasks of the tests of groups and of several limits.
var (
	// internalGroupA and internalGroupB wait until cancelled, one run per
	// ID at a time across both: their limit names one group.
	internalGroupA = Define("internal.group-a", func(ctx context.Context, a strikeArgs) (int64, error) {
		<-ctx.Done()
		return a.ID, ctx.Err()
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID", Group: "internal.group"}))
	internalGroupB = Define("internal.group-b", func(ctx context.Context, a groupArgs) (int64, error) {
		<-ctx.Done()
		return a.ID, ctx.Err()
	}, WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID", Group: "internal.group"}))
	// internalTwoCooldowns keeps one enqueue an hour per ID and per Name.
	internalTwoCooldowns = Define("internal.two-cooldowns", func(ctx context.Context, a strikeArgs) (int64, error) { return a.ID, nil },
		WithCooldown(Cooldown{Window: time.Hour, Per: "ID"}), WithCooldown(Cooldown{Window: time.Hour, Per: "Name"}))
	// internalTwoRates starts one run an hour per ID and per Name, and
	// drops the others.
	internalTwoRates = Define("internal.two-rates", func(ctx context.Context, a strikeArgs) (int64, error) { return a.ID, nil },
		WithRateLimit(RateLimit{Max: 1, Period: time.Hour, Per: "ID", Drop: true}),
		WithRateLimit(RateLimit{Max: 1, Period: time.Hour, Per: "Name", Drop: true}))
)

func TestLimitOptions(t *testing.T) {
	t.Parallel()
	base := Options{}
	WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID"})(&base)
	WithConcurrencyLimit(ConcurrencyLimit{Max: 3})(&base)
	require.Equal(t, []ConcurrencyLimit{{Max: 1, Per: "ID"}, {Max: 3}}, base.Concurrency, "another field adds a limit")
	o := base
	WithConcurrencyLimit(ConcurrencyLimit{Max: 2, Per: "ID"})(&o)
	require.Equal(t, []ConcurrencyLimit{{Max: 2, Per: "ID"}, {Max: 3}}, o.Concurrency, "the same field replaces its limit")
	require.Equal(t, []ConcurrencyLimit{{Max: 1, Per: "ID"}, {Max: 3}}, base.Concurrency, "the options copied from are unchanged")
	WithConcurrencyLimit(ConcurrencyLimit{Max: 2, Per: "ID", Group: "g"})(&o)
	require.Len(t, o.Concurrency, 3, "a group is another limit")

	WithRateLimit(RateLimit{Max: 10, Period: time.Second})(&o)
	WithRateLimit(RateLimit{Max: 1000, Period: time.Hour})(&o)
	WithRateLimit(RateLimit{Max: 20, Period: time.Second})(&o)
	require.Equal(t, []RateLimit{{Max: 20, Period: time.Second}, {Max: 1000, Period: time.Hour}}, o.RateLimits, "one rate per period")
	WithDebounce(Debounce{Window: time.Second, Per: "ID"})(&o)
	WithDebounce(Debounce{Window: time.Minute, Per: "ID"})(&o)
	WithCooldown(Cooldown{Window: time.Second, Per: "ID"})(&o)
	WithCooldown(Cooldown{Window: time.Second, Per: "Name"})(&o)
	require.Equal(t, []Debounce{{Window: time.Minute, Per: "ID"}}, o.Debounces)
	require.Len(t, o.Cooldowns, 2)
	require.NoError(t, o.validateLimits())

	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"two limits per one field", Options{Concurrency: []ConcurrencyLimit{{Max: 1, Per: "ID"}, {Max: 2, Per: "ID"}}}, `two concurrency limits are per "ID"`},
		{"two limits in one group", Options{RateLimits: []RateLimit{{Max: 1, Period: time.Second, Group: "g"}, {Max: 5, Period: time.Minute, Group: "g"}}}, `two rate limits name group "g"`},
		{"two cooldowns over the task", Options{Cooldowns: []Cooldown{{Window: time.Second}, {Window: time.Minute}}}, "two cooldowns"},
		{"a limit of 0 in a slice", Options{Concurrency: []ConcurrencyLimit{{Per: "ID"}}}, "below 1"},
		{"too many", Options{Debounces: make([]Debounce, MaxLimitsPerKind+1)}, "MaxLimitsPerKind"},
	} {
		require.ErrorContains(t, c.o.validateLimits(), c.want, c.name)
	}
}

// The limits of a group must agree: a task whose limit differs from the
// group's is refused at its definition, naming the task that set it.
func TestLimitGroupConflicts(t *testing.T) {
	t.Parallel()
	fn := func(ctx context.Context, a strikeArgs) (int, error) { return 0, nil }
	_, err := NewTask("internal.group-conflict-max", fn, WithConcurrencyLimit(ConcurrencyLimit{Max: 2, Per: "ID", Group: "internal.group"}))
	require.ErrorIs(t, err, ErrInvalidTask)
	require.ErrorContains(t, err, `concurrency limit group "internal.group" has Max 2 here, but task "internal.group-a" gave it Max 1`)
	_, err = NewTask("internal.group-conflict-per", fn, WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Group: "internal.group"}))
	require.ErrorContains(t, err, "give every limit of a group a Per, or none")
	_, ok := Lookup("internal.group-conflict-max")
	require.False(t, ok, "a refused task is not defined")

	// A rate group of the same name is another group.
	_, err = NewTask("internal.group-rate", fn, WithRateLimit(RateLimit{Max: 5, Period: time.Second, Group: "internal.group"}))
	require.NoError(t, err)
	_, err = NewTask("internal.group-rate-period", fn, WithRateLimit(RateLimit{Max: 5, Period: time.Minute, Group: "internal.group"}))
	require.ErrorContains(t, err, "same Period")

	// Set with Using, the difference is Enqueue's error.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	defer b.Close(ctx)
	_, err = internalStrikeTask.Using(WithConcurrencyLimit(ConcurrencyLimit{Max: 9, Per: "ID", Group: "internal.group"})).Enqueue(ctx, b, strikeArgs{})
	require.ErrorIs(t, err, ErrInvalidTask)
	require.ErrorContains(t, err, "same Max")
}

// Two tasks whose limits name one group share its budget for each value:
// a run of one waits for a run of the other with the same ID, and not for
// one with another ID.
func TestLimitGroupShared(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 4})
	require.NoError(t, err)
	defer b.Close(ctx)
	sub := b.Subscribe(64)
	defer sub.Close()
	started := func() string {
		for ev := range sub.C() {
			if ev.Kind == EventStarted {
				return ev.Result.ID
			}
		}
		t.Fatal("the subscription closed")
		return ""
	}
	a1, err := internalGroupA.Enqueue(ctx, b, strikeArgs{ID: 1})
	require.NoError(t, err)
	require.Equal(t, a1.ID(), started())
	b1, err := internalGroupB.Enqueue(ctx, b, groupArgs{ID: 1})
	require.NoError(t, err)
	b2, err := internalGroupB.Enqueue(ctx, b, groupArgs{ID: 2})
	require.NoError(t, err)
	require.Equal(t, b2.ID(), started(), "another ID has its own budget")
	// b1 was taken before b2 (one line, in order): it waits for a1's slot.
	b.s.mu.Lock()
	g := b.s.gates[gateKey{scope: "internal.group", group: true, kind: gateConc, val: int64(1)}]
	require.NotNil(t, g, "the group's gate for ID 1")
	require.Len(t, g.waiting, 1, "b1 waits for a1")
	require.Equal(t, b1.ID(), g.waiting[0].id)
	b.s.mu.Unlock()
	require.Contains(t, g.describe(), `concurrency limit group "internal.group" for ID 1`)

	require.NoError(t, b.Cancel(ctx, a1.ID()))
	require.Equal(t, b1.ID(), started(), "a1's slot passes to b1")
	for _, id := range []string{b1.ID(), b2.ID()} {
		require.NoError(t, b.Cancel(ctx, id))
	}
	require.NoError(t, b.Drain(ctx))
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Empty(t, b.s.gates)
}

// Two cooldowns: an enqueue is kept only outside the window of both, and
// one dropped by either opens neither.
func TestTwoCooldowns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	defer b.Close(ctx)
	for _, c := range []struct {
		args strikeArgs
		want Disposition
	}{
		{strikeArgs{ID: 1, Name: "a"}, Enqueued},
		{strikeArgs{ID: 1, Name: "b"}, Dropped},  // by ID
		{strikeArgs{ID: 2, Name: "a"}, Dropped},  // by Name
		{strikeArgs{ID: 2, Name: "b"}, Enqueued}, // the drops above opened no window
		{strikeArgs{ID: 3, Name: "a"}, Dropped},
		{strikeArgs{ID: 3, Name: "c"}, Enqueued},
	} {
		hd, err := internalTwoCooldowns.Enqueue(ctx, b, c.args)
		require.NoError(t, err)
		require.Equal(t, c.want, hd.Disposition(), "%+v", c.args)
	}
	require.NoError(t, b.Drain(ctx))
}

// Two rate limits that drop: a run dropped by one takes no start from the
// other.
func TestTwoRatesDrop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	defer b.Close(ctx)
	for _, c := range []struct {
		args   strikeArgs
		starts bool
	}{
		{strikeArgs{ID: 1, Name: "a"}, true},
		{strikeArgs{ID: 1, Name: "b"}, false}, // by ID: b keeps its start
		{strikeArgs{ID: 2, Name: "b"}, true},
		{strikeArgs{ID: 3, Name: "a"}, false}, // by Name
	} {
		hd, err := internalTwoRates.Enqueue(ctx, b, c.args)
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		if c.starts {
			require.NoError(t, err, "%+v", c.args)
			continue
		}
		require.ErrorIs(t, err, ErrCancelled, "%+v", c.args)
		res, err := hd.Result(ctx)
		require.NoError(t, err)
		require.Contains(t, res.CancelReason, "dropped by the rate limit")
	}
}

// stress counts the runs of the stress tasks running now, per ID and in
// all, and the most seen.
var stress struct {
	sync.Mutex
	perID       map[int64]int
	all         int
	mostID, max int
}

func stressRun(id int64) {
	stress.Lock()
	stress.perID[id]++
	stress.all++
	stress.mostID = max(stress.mostID, stress.perID[id])
	stress.max = max(stress.max, stress.all)
	stress.Unlock()
	runtime.Gosched()
	stress.Lock()
	stress.perID[id]--
	stress.all--
	stress.Unlock()
}

var (
	stressLimits = []Option{
		WithConcurrencyLimit(ConcurrencyLimit{Max: 1, Per: "ID", Group: "internal.stress-id"}),
		WithConcurrencyLimit(ConcurrencyLimit{Max: 3, Group: "internal.stress-all"}),
	}
	internalStressA = Define("internal.stress-a", func(ctx context.Context, a strikeArgs) (int64, error) {
		stressRun(a.ID)
		return a.ID, nil
	}, stressLimits...)
	internalStressB = Define("internal.stress-b", func(ctx context.Context, a groupArgs) (int64, error) {
		stressRun(a.ID)
		return a.ID, nil
	}, stressLimits...)
)

// Runs of two tasks under two concurrency limits of two groups, with more
// workers than either allows, some cancelled: no limit is ever passed,
// every run runs or is cancelled, and no slot is lost or kept (the gates
// are gone at the end).
func TestSeveralLimitsStress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stress.perID = map[int64]int{}
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 8})
	require.NoError(t, err)
	defer b.Close(ctx)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 250 {
				id := int64((i + p) % 7)
				var r Receipt
				var err error
				if i%2 == 0 {
					r, err = b.Enqueue(ctx, internalStressA.Definition(), strikeArgs{ID: id}, internalStressA.Options())
				} else {
					r, err = b.Enqueue(ctx, internalStressB.Definition(), groupArgs{ID: id}, internalStressB.Options())
				}
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					// Wherever it is (queued, waiting for a slot while
					// holding another, running or done), a cancel must
					// give back what it holds.
					if err := b.Cancel(ctx, r.ID); err != nil && !errors.Is(err, ErrFinished) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, b.Drain(ctx))
	stress.Lock()
	require.Equal(t, 1, stress.mostID, "one run per ID at a time, across both tasks")
	require.LessOrEqual(t, stress.max, 3, "three runs at a time in all")
	require.Zero(t, stress.all)
	stress.Unlock()
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Equal(t, uint64(1000), b.s.counters.Succeeded+b.s.counters.Cancelled)
	require.NotZero(t, b.s.counters.Cancelled)
	require.Empty(t, b.s.gates)
}
