package otel

import (
	"context"

	"go.opentelemetry.io/otel/propagation"

	"github.com/localtasks/localtasks"
)

// Propagator returns a localtasks.Propagator, for Config.Propagator, that
// carries what p carries (with propagation.TraceContext, the active span's
// context) from each Enqueue to the attempts of the runs it queued. Give
// it the propagator the application uses, otel.GetTextMapPropagator() for
// the global one.
func Propagator(p propagation.TextMapPropagator) localtasks.Propagator {
	return propagator{p}
}

// propagator adapts a TextMapPropagator to localtasks.Propagator.
type propagator struct{ p propagation.TextMapPropagator }

// Inject returns the carrier of ctx's trace context, or nil if p carries
// nothing of ctx.
func (p propagator) Inject(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	p.p.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Extract returns ctx with the trace context carrier holds.
func (p propagator) Extract(ctx context.Context, carrier map[string]string) context.Context {
	return p.p.Extract(ctx, propagation.MapCarrier(carrier))
}
