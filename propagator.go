package localtasks

import (
	"cmp"
	"context"
	"sync/atomic"

	"github.com/localtasks/localtasks/internal/child"
)

// Propagator carries what a context holds of a trace (or of any other
// request-scoped value) from an Enqueue to the attempts of the runs it
// queued, as a small text carrier kept with each run: see
// Config.Propagator. The nested module github.com/localtasks/localtasks/otel
// adapts OpenTelemetry's propagators to it.
type Propagator interface {
	// Inject returns the carrier of ctx, the ctx of an Enqueue or
	// EnqueueMany; nil or empty for none, which costs the run nothing.
	// The backend keeps it and never changes it.
	Inject(ctx context.Context) map[string]string
	// Extract returns ctx, an attempt's ctx, with what carrier, one Inject
	// returned, holds. It must return a ctx descending from ctx, as
	// middleware must. A panic fails the attempt, as a middleware's does.
	Extract(ctx context.Context, carrier map[string]string) context.Context
}

// inject returns the carrier Config.Propagator makes of ctx, or nil.
func (s *state) inject(ctx context.Context) map[string]string {
	p := s.set.cfg.Propagator
	if p == nil {
		return nil
	}
	if c := p.Inject(ctx); len(c) > 0 {
		return c
	}
	return nil
}

// EnqueueTracer is a Propagator that also traces each enqueue, so that a
// trace shows the Enqueue itself between the span that called it and the
// attempts of its runs. A backend whose Config.Propagator is one calls
// StartEnqueue as each Enqueue or EnqueueMany begins, gives Inject the ctx
// it returns, and calls end once, when the enqueue returns, with the IDs
// of the runs it queued (or found queued already, for a key) or its error.
// The nested module github.com/localtasks/localtasks/otel has one:
// otel.TracingPropagator.
type EnqueueTracer interface {
	Propagator
	StartEnqueue(ctx context.Context, e EnqueueInfo) (_ context.Context, end func(ids []string, err error))
}

// EnqueueInfo describes an enqueue, for EnqueueTracer.
type EnqueueInfo struct {
	// Backend is the backend's name; "" for a private one.
	Backend string
	// Task is the task's name; Queue is the queue its runs go to.
	Task, Queue string
	// Runs counts the runs asked for: 1 for Enqueue, the arguments for
	// EnqueueMany.
	Runs int
}

// traceEnqueue starts tracing an enqueue of n runs of task with opts, if
// Config.Propagator is an EnqueueTracer: it returns the ctx to enqueue
// with and the function to call with the outcome; nil for none.
func (s *state) traceEnqueue(ctx context.Context, task Definition, opts *Options, n int) (context.Context, func([]string, error)) {
	t, ok := s.set.cfg.Propagator.(EnqueueTracer)
	if !ok || task == nil {
		return ctx, nil
	}
	return t.StartEnqueue(ctx, EnqueueInfo{Backend: s.name, Task: task.Name(), Queue: cmp.Or(opts.Queue, QueueDefault), Runs: n})
}

// receiptIDs returns the IDs of rs, for an EnqueueTracer's end.
func receiptIDs(rs []Receipt) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// workerPropagator is SetWorkerPropagator's, in a box: an atomic.Pointer
// needs one type.
var workerPropagator atomic.Pointer[struct{ p Propagator }]

// SetWorkerPropagator sets the Propagator of this process as a process-pool
// worker: the worker extracts, with p's Extract, the trace context of each
// attempt into its task's ctx, so that the spans the task makes in the
// worker (an instrumented HTTP call, a span of its own) are children of the
// attempt's span, which the parent's middleware (the otel module's
// TracingMiddleware) made. Call it in the pool's worker initialiser
// (ProcessPoolConfig.WorkerInit), where the worker also sets up its
// tracer's exporter, or at package level: a worker takes it once its
// initialiser has returned, and tells its parent that it has one; a later
// call changes nothing for a worker that runs already. Nil removes it. In a
// process that is not a worker it does nothing, and costs nothing.
//
// The parent sends a worker that has one the carrier of each attempt only
// when its Config.Propagator is set. With Config.Middleware set too, the
// carrier is that of the ctx the middleware passed to next, which exists
// only once the worker has started the attempt: the worker then waits for
// it before running the task, a round trip between the processes an
// attempt (see docs/process-pool.md, "Tracing into the workers"); without
// middleware, the run's own carrier, from its Enqueue, goes with the run,
// at no cost. A worker that has none runs its tasks with no trace context,
// whatever its parent's Config.
func SetWorkerPropagator(p Propagator) {
	if p == nil {
		workerPropagator.Store(nil)
		return
	}
	workerPropagator.Store(&struct{ p Propagator }{p})
}

// workerExtract returns the Extract of the worker's propagator, for
// child.Serve; nil for none.
func workerExtract() child.Extract {
	if b := workerPropagator.Load(); b != nil {
		return b.p.Extract
	}
	return nil
}
