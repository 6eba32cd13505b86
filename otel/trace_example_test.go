package otel_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/localtasks/localtasks"
	lotel "github.com/localtasks/localtasks/otel"
)

// A run enqueued inside a span gets a span of each attempt, child of it.
func ExampleTracingMiddleware() {
	exp := tracetest.NewInMemoryExporter() // an OTLP exporter in production
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{
		Propagator: lotel.Propagator(propagation.TraceContext{}),
		Middleware: []localtasks.Middleware{lotel.TracingMiddleware(tp)},
	}})
	if err != nil {
		panic(err)
	}
	defer b.Close(context.Background())

	ctx, handler := tp.Tracer("webapp").Start(context.Background(), "POST /reports")
	h, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).Enqueue(ctx, b, 1)
	if err != nil {
		panic(err)
	}
	handler.End()
	if _, err := h.Wait(context.Background()); err != nil {
		panic(err)
	}
	for _, s := range exp.GetSpans() {
		if s.Name == "POST /reports" {
			continue
		}
		attrs := attribute.NewSet(s.Attributes...)
		attempt, _ := attrs.Value(lotel.AttrAttempt)
		fmt.Printf("%s attempt %d: child of the handler's span %t, status %s\n",
			s.Name, attempt.AsInt64(), s.Parent.SpanID() == handler.SpanContext().SpanID(), s.Status.Code)
	}
	// Output:
	// otel.flaky attempt 1: child of the handler's span true, status Error
	// otel.flaky attempt 2: child of the handler's span true, status Unset
}

// With TracingPropagator the Enqueue has a span too: the trace is the
// handler, the enqueue, then each attempt.
func ExampleTracingPropagator() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{
		Propagator: lotel.TracingPropagator(propagation.TraceContext{}, tp),
		Middleware: []localtasks.Middleware{lotel.TracingMiddleware(tp)},
	}})
	if err != nil {
		panic(err)
	}
	defer b.Close(context.Background())

	ctx, handler := tp.Tracer("webapp").Start(context.Background(), "POST /reports")
	h, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).Enqueue(ctx, b, 1)
	if err != nil {
		panic(err)
	}
	handler.End()
	if _, err := h.Wait(context.Background()); err != nil {
		panic(err)
	}
	names := map[[8]byte]string{}
	for _, s := range exp.GetSpans() {
		names[s.SpanContext.SpanID()] = s.Name
	}
	for _, s := range exp.GetSpans() {
		parent := names[s.Parent.SpanID()]
		if parent == "" {
			parent = "none"
		}
		fmt.Printf("%s (%s), parent %s\n", s.Name, s.SpanKind, parent)
	}
	// Output:
	// enqueue otel.flaky (producer), parent POST /reports
	// POST /reports (internal), parent none
	// otel.flaky (consumer), parent enqueue otel.flaky
	// otel.flaky (consumer), parent enqueue otel.flaky
}
