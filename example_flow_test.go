package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

var resizeImage = localtasks.Define("example.flow.resize",
	func(ctx context.Context, name string) (string, error) { return "resized " + name, nil })

// EnqueueMany checks a batch as a whole and queues it in one go: one handle
// an argument, in their order.
func ExampleTask_EnqueueMany() {
	ctx := context.Background()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	hs, err := resizeImage.EnqueueMany(ctx, b, []string{"a.png", "b.png", "c.png"})
	if err != nil {
		fmt.Println(err) // nothing was queued
		return
	}
	for _, h := range hs {
		v, err := h.Wait(ctx)
		fmt.Println(v, err)
	}
	// Output:
	// resized a.png <nil>
	// resized b.png <nil>
	// resized c.png <nil>
}

// A paused queue holds its runs, READY, without cancelling them; they run
// once it is resumed. A run with a deadline that passes while it is held
// ends CANCELLED instead.
func ExampleThreadPoolBackend_Pause() {
	ctx := context.Background()
	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{
		Queues: []string{"default", "images"},
		Test:   localtasks.TestConfig{Clock: clock},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	images := resizeImage.Using(localtasks.WithQueue("images"))
	if err := b.Pause(ctx, localtasks.Pause{Queue: "images"}); err != nil {
		fmt.Println(err)
		return
	}
	held, _ := images.Enqueue(ctx, b, "held.png")
	late, _ := images.Using(localtasks.WithStartWithin(time.Minute)).Enqueue(ctx, b, "late.png")
	fmt.Println("paused:", b.Pauses())
	st, _ := held.Status(ctx)
	fmt.Println("held:", st)

	clock.Advance(time.Minute) // late's deadline passes while it is held
	res, _ := b.Wait(ctx, late.ID())
	fmt.Println("late:", res.Status, res.CancelReason[:15])

	if err := b.Resume(ctx, localtasks.Pause{Queue: "images"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(held.Wait(ctx))
	// Output:
	// paused: [queue "images"]
	// held: READY
	// late: CANCELLED deadline passed
	// resized held.png <nil>
}

// QueueWorkers gives a queue a share of the pool's workers: here the
// reports queue takes at most one of the four, whatever its backlog, and
// the default queue's runs never wait behind it.
func ExampleConfig_queueWorkers() {
	ctx := context.Background()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4, Config: localtasks.Config{
		Queues:       []string{"default", "reports"},
		QueueWorkers: map[string]int{"reports": 1},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	if _, err := resizeImage.Using(localtasks.WithQueue("reports")).EnqueueMany(ctx, b, []string{"r1", "r2", "r3"}); err != nil {
		fmt.Println(err)
		return
	}
	h, _ := resizeImage.Enqueue(ctx, b, "now.png")
	fmt.Println(h.Wait(ctx))
	if err := b.Drain(ctx); err != nil {
		fmt.Println(err)
		return
	}
	snap, _ := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	for _, q := range snap.Queues {
		fmt.Printf("%s: at most %d workers (0: all), %d running\n", q.Name, q.MaxWorkers, q.Running)
	}
	// Output:
	// resized now.png <nil>
	// default: at most 0 workers (0: all), 0 running
	// reports: at most 1 workers (0: all), 0 running
}
