package otel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/localtasks/localtasks"
	lotel "github.com/localtasks/localtasks/otel"
)

// echo returns its argument, for the benchmarks.
var echo = localtasks.Define("otel.echo", func(ctx context.Context, n int) (int, error) { return n, nil })

// BenchmarkRoundTripTraced is an Enqueue and Wait on a thread pool, with
// no tracing, and with Propagator and TracingMiddleware in a span.
func BenchmarkRoundTripTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	for _, c := range []struct {
		name string
		cfg  localtasks.Config
	}{
		{"Off", localtasks.Config{}},
		{"On", localtasks.Config{Propagator: lotel.Propagator(propagation.TraceContext{}),
			Middleware: []localtasks.Middleware{lotel.TracingMiddleware(tp)}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: c.cfg})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			ctx, span := tp.Tracer("bench").Start(context.Background(), "handler")
			defer span.End()
			b.ReportAllocs()
			for b.Loop() {
				h, err := echo.Enqueue(ctx, p, 1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
