package localtasks_test

import (
	"context"
	"fmt"
	"time"
	_ "time/tzdata" // the time zone database, for LoadLocation on any system

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// dailyReport runs at 9:00 in New York on weekdays. WithCron makes it
// automatic: a pool whose Config.Automatic names it starts it, and no other.
// It has a queue of its own, which that pool lists in its Queues.
var dailyReport = localtasks.Define("example.cron.report",
	func(ctx context.Context, _ struct{}) (string, error) {
		return "report sent", nil
	},
	localtasks.WithCron("0 9 * * MON-FRI", newYork),
	localtasks.WithQueue("example.cron"),
)

func ExampleWithCron() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Thursday 3 January 2030, 18:00 in New York.
	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 3, 23, 0, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{
			Queues:    []string{localtasks.QueueDefault, "example.cron"},
			Automatic: []string{dailyReport.Name()}, // start it with this pool
			Test:      localtasks.TestConfig{Clock: clock},
		},
	})
	if err != nil {
		panic(err)
	}

	// The scheduled run of the chain, from a snapshot that lists only that.
	scheduled := func() localtasks.TaskResult {
		snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{
			Statuses: []localtasks.Status{localtasks.StatusScheduled}, Key: "example.cron.report"})
		if err != nil {
			panic(err)
		}
		return snap.Scheduled[0]
	}

	// The pool started the task: its first run waits for 9:00 on Friday.
	const layout = "Mon 2006-01-02 15:04 MST"
	first := scheduled()
	fmt.Println(first.Task, first.Key, first.RunAfter.In(newYork).Format(layout))

	clock.Advance(first.RunAfter.Sub(clock.Now()))
	res, err := pool.Wait(ctx, first.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Value)

	// Each run schedules the next: after the weekend.
	next := scheduled()
	fmt.Println(next.RunAfter.In(newYork).Format(layout))

	// Close cancels the scheduled run, which ends the chain.
	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// example.cron.report example.cron.report Fri 2030-01-04 09:00 EST
	// SUCCESSFUL report sent
	// Mon 2030-01-07 09:00 EST
}

// lastDayOfMonth is a Schedule that cron cannot say: 18:00 UTC on the last
// day of each month.
type lastDayOfMonth struct{}

func (lastDayOfMonth) Next(t time.Time) time.Time {
	t = t.UTC()
	for m := 0; ; m++ {
		// Day 0 of the month after is the last day of this one.
		at := time.Date(t.Year(), t.Month()+time.Month(m)+1, 0, 18, 0, 0, 0, time.UTC)
		if at.After(t) {
			return at
		}
	}
}

var closeBooks = localtasks.Define("example.schedule.close-books",
	func(ctx context.Context, _ struct{}) (string, error) {
		return "books closed", nil
	},
	localtasks.WithPerpetual(localtasks.Perpetual{Schedule: lastDayOfMonth{}}),
)

func ExampleSchedule() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// 10 February 2030, with a fake clock.
	clock := localtaskstest.NewFakeClock(time.Date(2030, 2, 10, 12, 0, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}},
	})
	if err != nil {
		panic(err)
	}
	h, err := closeBooks.Enqueue(ctx, pool, struct{}{})
	if err != nil {
		panic(err)
	}
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.RunAfter.Format(time.DateTime))

	clock.Advance(res.RunAfter.Sub(clock.Now()))
	v, err := h.Wait(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(v)

	// The run scheduled the next, at the next time the Schedule names.
	snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Key: closeBooks.Name()})
	if err != nil {
		panic(err)
	}
	fmt.Println(snap.Scheduled[0].RunAfter.Format(time.DateTime))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// SCHEDULED 2030-02-28 18:00:00
	// books closed
	// 2030-03-31 18:00:00
}

// warmCache is automatic, every hour on the hour, and runs once as its
// pool starts, so that the cache is warm at once.
var warmCache = localtasks.Define("example.cron.warm",
	func(ctx context.Context, _ struct{}) (string, error) {
		return "warm", nil
	},
	localtasks.WithPerpetual(localtasks.Perpetual{Cron: "@hourly", Automatic: true, RunOnStart: true}),
	localtasks.WithQueue("example.warm"),
)

func ExamplePerpetual_runOnStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 3, 10, 20, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{
			Queues:    []string{localtasks.QueueDefault, "example.warm"},
			Automatic: []string{warmCache.Name()},
			Test:      localtasks.TestConfig{Clock: clock},
		},
	})
	if err != nil {
		panic(err)
	}
	// The first run needs no time to pass: it runs as the pool starts.
	// Once it ended, the clock has one timer: the next run's.
	if err := clock.BlockUntil(ctx, 1); err != nil {
		panic(err)
	}
	snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Key: warmCache.Name()})
	if err != nil {
		panic(err)
	}
	first, next := snap.Finished[0], snap.Scheduled[0]
	fmt.Println(first.Status, first.Value, "at", first.StartedAt.Format(time.TimeOnly))
	fmt.Println("next at", next.RunAfter.Format(time.TimeOnly))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// SUCCESSFUL warm at 10:20:00
	// next at 11:00:00
}
