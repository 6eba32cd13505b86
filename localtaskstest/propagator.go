package localtaskstest

import "context"

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
