//go:build unix

package localtasks_test

import (
	"context"
	"testing"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// passThrough is a middleware that only calls next.
func passThrough(ctx context.Context, _ localtasks.Execution, next func(context.Context) error) error {
	return next(ctx)
}

// BenchmarkProcRoundTripMiddleware is BenchmarkProcRoundTrip with a
// Propagator and a middleware, on workers without a propagator: the
// baseline of BenchmarkProcRoundTripPropagated.
func BenchmarkProcRoundTripMiddleware(b *testing.B) {
	benchProcRoundTripOn(b, localtasks.ProcessPoolConfig{Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{passThrough}}},
		benchNoop, func(i int) int { return i })
}

// BenchmarkProcRoundTripPropagated: the same on workers with a propagator,
// which wait for each attempt's carrier from the parent's middleware.
func BenchmarkProcRoundTripPropagated(b *testing.B) {
	benchProcRoundTripOn(b, localtasks.ProcessPoolConfig{WorkerInit: propagatingInit, Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{passThrough}}},
		benchNoop, func(i int) int { return i })
}
