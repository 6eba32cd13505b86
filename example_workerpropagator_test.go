package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// setUpWorkerTracing is each worker's initialiser: where a real program
// sets up its tracer's exporter in the worker, and the worker's propagator,
// lotel.Propagator(propagation.TraceContext{}) with the otel module.
var setUpWorkerTracing = localtasks.DefineWorkerInit("example.tracing", func(ctx context.Context) error {
	localtasks.SetWorkerPropagator(localtaskstest.Propagator{})
	return nil
})

// traceSeen returns what its ctx, in the worker, holds of a trace.
var traceSeen = localtasks.Define("example.trace.seen", func(ctx context.Context, _ int) (string, error) {
	return localtaskstest.TraceOf(ctx), nil
})

// span is a middleware that stands for a tracing middleware: it passes
// next a ctx in a span of its own, named after the attempt.
func span(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
	return next(localtaskstest.WithTrace(ctx, fmt.Sprintf("%s > attempt %d", localtaskstest.TraceOf(ctx), ex.Attempt)))
}

// A worker with a propagator runs its tasks in the trace context of the
// ctx the parent's middleware passed to next: what was active at Enqueue,
// and the attempt's span. A worker without one runs them with none.
func ExampleSetWorkerPropagator() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: setUpWorkerTracing,
		Config: localtasks.Config{Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{span}}})
	if err != nil {
		panic(err)
	}
	h, err := traceSeen.Enqueue(localtaskstest.WithTrace(ctx, "POST /reports"), procs, 1)
	if err != nil {
		panic(err)
	}
	seen, err := h.Wait(ctx)
	fmt.Printf("the task saw %q, %v\n", seen, err)
	if err := procs.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// the task saw "POST /reports > attempt 1", <nil>
}
