package localtasks_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// sendReceipt stands in for mailing an order's receipt.
var sendReceipt = localtasks.Define("example.key.send",
	func(ctx context.Context, body string) (string, error) {
		return "sent " + body, nil
	},
)

func ExampleWithKey() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A fake clock: the delayed runs start when the example says so.
	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1,
	})
	if err != nil {
		panic(err)
	}

	// One receipt per order: the key names the order.
	later := sendReceipt.Using(localtasks.WithDelay(time.Hour))
	first, err := later.Using(localtasks.WithKey("order-42")).Enqueue(ctx, pool, "v1")
	if err != nil {
		panic(err)
	}
	fmt.Println(first.Disposition())

	// While that run waits, the same key enqueues nothing: the handle is
	// the waiting run's.
	again, err := later.Using(localtasks.WithKey("order-42")).Enqueue(ctx, pool, "v2")
	if err != nil {
		panic(err)
	}
	fmt.Println(again.Disposition(), again.ID() == first.ID())

	// Replace swaps the waiting run for a new one, which takes the key.
	third, err := later.Replace(ctx, pool, "order-42", "v3")
	if err != nil {
		panic(err)
	}
	fmt.Println(third.Disposition())
	res, err := first.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, strings.TrimSuffix(res.CancelReason, third.ID())+"<id of v3>")

	// An hour later the replacement runs; its key is free once it ends.
	clock.Advance(time.Hour)
	out, err := third.Wait(ctx)
	fmt.Println(out, err)
	res, err = third.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("key:", res.Key)
	next, err := sendReceipt.Using(localtasks.WithKey("order-42")).Enqueue(ctx, pool, "v4")
	if err != nil {
		panic(err)
	}
	fmt.Println(next.Disposition())
	if _, err := next.Wait(ctx); err != nil {
		panic(err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// enqueued
	// already enqueued true
	// replaced
	// CANCELLED replaced by the run <id of v3>
	// sent v3 <nil>
	// key: order-42
	// enqueued
}
