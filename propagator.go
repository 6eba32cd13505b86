package localtasks

import (
	"cmp"
	"context"
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
