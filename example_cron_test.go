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
