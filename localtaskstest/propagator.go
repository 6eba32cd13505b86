package localtaskstest

import (
	"context"
	"slices"
	"sync"

	"github.com/localtasks/localtasks"
)

// Propagator is a localtasks.Propagator for tests of Config.Propagator: it
// carries the string WithTrace put in the Enqueue's ctx, as the carrier's
// "trace", to each attempt's ctx, where TraceOf reads it. A ctx without
// one gives no carrier.
type Propagator struct{}

// traceKey keys the string Propagator carries.
type traceKey struct{}

// WithTrace returns ctx carrying trace, for Propagator.
func WithTrace(ctx context.Context, trace string) context.Context {
	return context.WithValue(ctx, traceKey{}, trace)
}

// TraceOf returns the string WithTrace or Propagator put in ctx; "" for none.
func TraceOf(ctx context.Context) string {
	v, _ := ctx.Value(traceKey{}).(string)
	return v
}

// Inject returns the carrier of ctx's trace, or nil if it has none.
func (Propagator) Inject(ctx context.Context) map[string]string {
	if v, ok := ctx.Value(traceKey{}).(string); ok {
		return map[string]string{"trace": v}
	}
	return nil
}

// Extract returns ctx carrying the carrier's trace.
func (Propagator) Extract(ctx context.Context, carrier map[string]string) context.Context {
	return WithTrace(ctx, carrier["trace"])
}

// EnqueueTracer is a localtasks.EnqueueTracer for tests: a Propagator
// whose StartEnqueue gives the enqueue the trace "enqueue(T)", where T is
// the trace of the Enqueue's ctx, so that an attempt's TraceOf shows its
// enqueue was traced, and records each enqueue's outcome, for Ends.
type EnqueueTracer struct {
	Propagator
	mu   sync.Mutex
	ends []EnqueueEnd
}

// EnqueueEnd is an enqueue that an EnqueueTracer traced: what it was told
// at the start, and at the end.
type EnqueueEnd struct {
	Info localtasks.EnqueueInfo
	IDs  []string
	Err  error
}

// StartEnqueue returns ctx with the trace "enqueue(T)".
func (t *EnqueueTracer) StartEnqueue(ctx context.Context, e localtasks.EnqueueInfo) (context.Context, func([]string, error)) {
	ctx = WithTrace(ctx, "enqueue("+TraceOf(ctx)+")")
	return ctx, func(ids []string, err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.ends = append(t.ends, EnqueueEnd{e, ids, err})
	}
}

// Ends returns the enqueues t traced that have ended, in the order they
// ended.
func (t *EnqueueTracer) Ends() []EnqueueEnd {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.ends)
}
