package localtasks

import "context"

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
