package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// shop is the backend the shop's tasks enqueue on.
var shop localtasks.Backend

var (
	mailReceipt = localtasks.Define("example.runall.receipt", func(ctx context.Context, order int) (string, error) {
		return fmt.Sprintf("receipt for order %d mailed", order), nil
	})
	chargeOrder = localtasks.Define("example.runall.charge", func(ctx context.Context, order int) (string, error) {
		// The receipt goes a minute later, once the payment has settled.
		if _, err := mailReceipt.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, shop, order); err != nil {
			return "", err
		}
		return fmt.Sprintf("order %d charged", order), nil
	})
)

func ExampleRecordingBackend_RunAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	rec, err := localtasks.NewRecording(localtasks.Config{
		Test: localtasks.TestConfig{Clock: clock},
		Middleware: []localtasks.Middleware{func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
			fmt.Println("middleware:", ex.Task, "attempt", ex.Attempt)
			return next(ctx)
		}},
	})
	if err != nil {
		panic(err)
	}
	defer rec.Close(ctx)
	shop = rec

	h, err := chargeOrder.Enqueue(ctx, rec, 7)
	if err != nil {
		panic(err)
	}
	// RunAll runs what is due by the backend's clock: the charge, whose
	// receipt is recorded, SCHEDULED a minute later.
	results, err := rec.RunAll(ctx)
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Println(r.Task, r.Status, r.Value)
	}
	charged, err := h.Wait(ctx) // finished, so Wait has its result
	fmt.Println(charged, err)
	fmt.Println(rec.Recorded()[1].Task, rec.Recorded()[1].Status)

	// A minute on, the receipt is due.
	clock.Advance(time.Minute)
	results, err = rec.RunAll(ctx)
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Println(r.Task, r.Status, r.Value)
	}
	// Output:
	// middleware: example.runall.charge attempt 1
	// example.runall.charge SUCCESSFUL order 7 charged
	// order 7 charged <nil>
	// example.runall.receipt SCHEDULED
	// middleware: example.runall.receipt attempt 1
	// example.runall.receipt SUCCESSFUL receipt for order 7 mailed
}
