package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// poll stands in for polling a feed: each run passes the next page to the
// run that follows it.
var poll = localtasks.Define("example.perpetual.poll",
	func(ctx context.Context, page int) (int, error) {
		fmt.Println("polling page", page)
		if err := localtasks.SetNextArgs(ctx, page+1); err != nil {
			return 0, err
		}
		return page, nil
	},
	localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Millisecond}),
)

func ExampleWithPerpetual() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A perpetual task runs for ever; Test.RunAtMost ends its chain after 3
	// runs, so that Drain returns.
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Test: localtasks.TestConfig{RunAtMost: map[string]int{"example.perpetual.poll": 3}}},
	})
	if err != nil {
		panic(err)
	}
	h, err := poll.Enqueue(ctx, pool, 1)
	if err != nil {
		panic(err)
	}
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}

	// A perpetual task's key is its name: one chain per task.
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Disposition(), res.Status, "key:", res.Key)
	c := pool.Counters()
	fmt.Println("enqueued:", c.Enqueued, "perpetuated:", c.Perpetuated, "succeeded:", c.Succeeded)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// polling page 1
	// polling page 2
	// polling page 3
	// enqueued SUCCESSFUL key: example.perpetual.poll
	// enqueued: 1 perpetuated: 2 succeeded: 3
}

// hourlySweep is automatic: a pool whose Config.Automatic names it keeps
// its chain going.
var hourlySweep = localtasks.Define("example.perpetual.sweep",
	func(ctx context.Context, _ struct{}) (string, error) {
		return "swept", nil
	},
	localtasks.WithCron("@hourly", nil),
)

func ExamplePerpetual_startsAgain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 3, 10, 20, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Automatic: []string{hourlySweep.Name()}, Test: localtasks.TestConfig{Clock: clock}},
	})
	if err != nil {
		panic(err)
	}
	scheduled := func() localtasks.TaskResult {
		snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Key: hourlySweep.Name(),
			Statuses: []localtasks.Status{localtasks.StatusScheduled}})
		if err != nil {
			panic(err)
		}
		return snap.Scheduled[0]
	}

	// Cancel cuts the chain; the pool starts it again, at its next time.
	first := scheduled()
	if err := pool.Cancel(ctx, first.ID); err != nil {
		panic(err)
	}
	again := scheduled()
	fmt.Println("started again:", again.ID != first.ID, "at", again.RunAfter.Format(time.TimeOnly))

	// A strike ends it for good: the run is cancelled when it would start,
	// and nothing follows it.
	if err := pool.Strike(localtasks.Strike{Task: hourlySweep.Name()}); err != nil {
		panic(err)
	}
	clock.Advance(again.RunAfter.Sub(clock.Now()))
	res, err := pool.Wait(ctx, again.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.CancelReason)
	if err := pool.Drain(ctx); err != nil { // nothing is left
		panic(err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// started again: true at 11:00:00
	// CANCELLED struck before it started: example.perpetual.sweep
}
