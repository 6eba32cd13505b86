package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

type invoice struct {
	Shop   string
	Amount int
}

var chargeInvoice = localtasks.Define("example.strike.charge",
	func(ctx context.Context, in invoice) (string, error) {
		return fmt.Sprintf("charged %s %d", in.Shop, in.Amount), nil
	},
)

func ExampleThreadPoolBackend_Strike() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC))
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1,
	})
	if err != nil {
		panic(err)
	}

	// A run scheduled before the strike.
	early, err := chargeInvoice.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, pool, invoice{"acme", 10})
	if err != nil {
		panic(err)
	}

	// Stop charging acme while its account is looked into.
	acme := localtasks.Strike{Task: "example.strike.charge", Field: "Shop", Op: localtasks.OpEqual, Value: "acme"}
	if err := pool.Strike(acme); err != nil {
		panic(err)
	}
	fmt.Println(pool.Strikes())

	// A struck request queues nothing; other shops go on.
	struck, err := chargeInvoice.Enqueue(ctx, pool, invoice{"acme", 20})
	if err != nil {
		panic(err)
	}
	res, err := struck.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(struck.Disposition(), res.Status, res.CancelReason)
	other, err := chargeInvoice.Enqueue(ctx, pool, invoice{"globex", 30})
	if err != nil {
		panic(err)
	}
	fmt.Println(other.Wait(ctx))

	// The run scheduled earlier is checked again when it would start.
	clock.Advance(time.Minute)
	if _, err := early.Wait(ctx); !errors.Is(err, localtasks.ErrCancelled) {
		panic(err)
	}
	res, err = early.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.CancelReason)

	// Restore lifts the strike; what it dropped stays dropped.
	if err := pool.Restore(acme); err != nil {
		panic(err)
	}
	after, err := chargeInvoice.Enqueue(ctx, pool, invoice{"acme", 40})
	if err != nil {
		panic(err)
	}
	fmt.Println(after.Disposition())
	fmt.Println(after.Wait(ctx))
	fmt.Println(early.Status(ctx))
	fmt.Println("struck:", pool.Counters().Struck)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// [example.strike.charge where Shop == "acme"]
	// struck CANCELLED struck: example.strike.charge where Shop == "acme"
	// charged globex 30 <nil>
	// CANCELLED struck before it started: example.strike.charge where Shop == "acme"
	// enqueued
	// charged acme 40 <nil>
	// CANCELLED <nil>
	// struck: 2
}

type refund struct {
	Shop  string
	Cents int
}

var refundOrder = localtasks.Define("example.strike.refund",
	func(ctx context.Context, r refund) (string, error) {
		return fmt.Sprintf("refunded %s %d", r.Shop, r.Cents), nil
	},
)

// A strike without a task stops one shop across every task whose argument
// has a Shop field.
func ExampleStrike_everyTask() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}

	acme := localtasks.Strike{Field: "Shop", Op: localtasks.OpEqual, Value: "acme"}
	if err := pool.Strike(acme); err != nil {
		panic(err)
	}
	fmt.Println(pool.Strikes())

	charge, err := chargeInvoice.Enqueue(ctx, pool, invoice{"acme", 10})
	if err != nil {
		panic(err)
	}
	refunded, err := refundOrder.Enqueue(ctx, pool, refund{"acme", 500})
	if err != nil {
		panic(err)
	}
	other, err := refundOrder.Enqueue(ctx, pool, refund{"globex", 700})
	if err != nil {
		panic(err)
	}
	fmt.Println(charge.Disposition(), refunded.Disposition(), other.Disposition())
	fmt.Println(other.Wait(ctx))

	// A strike with neither a task nor a field would strike everything.
	fmt.Println(errors.Is(pool.Strike(localtasks.Strike{}), localtasks.ErrInvalidTask))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// [any task where Shop == "acme"]
	// struck struck enqueued
	// refunded globex 700 <nil>
	// true
}
