package otel_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/localtasks/localtasks"
	lotel "github.com/localtasks/localtasks/otel"
)

// flaky fails its first attempt and returns its worker's PID on the second:
// defined at package level, so that the process pool's workers know it.
var flaky = localtasks.Define("otel.flaky", func(ctx context.Context, _ int) (int, error) {
	if localtasks.Attempt(ctx) == 1 {
		return 0, errors.New("first attempts fail")
	}
	return os.Getpid(), nil
})

// tracing returns a Config that traces to a new in-memory exporter.
func tracing(t *testing.T) (localtasks.Config, *tracetest.InMemoryExporter, trace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return localtasks.Config{
		Logger:     slog.New(slog.DiscardHandler),
		Propagator: lotel.Propagator(propagation.TraceContext{}),
		Middleware: []localtasks.Middleware{lotel.TracingMiddleware(tp)},
	}, exp, tp
}

// checkTrace enqueues a run of flaky in a handler's span on b, and checks
// that each of its two attempts has a span, child of the handler's, with
// the attempt's attributes; it returns the PID the run ran in.
func checkTrace(t *testing.T, b localtasks.Backend, exp *tracetest.InMemoryExporter, tp trace.TracerProvider) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hctx, handler := tp.Tracer("test").Start(ctx, "GET /report")
	h, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}), localtasks.WithPriority(3)).Enqueue(hctx, b, 1)
	require.NoError(t, err)
	handler.End()
	pid, err := h.Wait(ctx)
	require.NoError(t, err)

	parent := handler.SpanContext()
	var attempts []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == flaky.Name() {
			attempts = append(attempts, s)
		}
	}
	require.Len(t, attempts, 2, "a span per attempt")
	for i, s := range attempts {
		require.Equal(t, parent.TraceID(), s.SpanContext.TraceID(), "the attempt is in the handler's trace")
		require.Equal(t, parent.SpanID(), s.Parent.SpanID(), "the attempt's parent is the span active at Enqueue")
		require.Equal(t, trace.SpanKindConsumer, s.SpanKind)
		attrs := attribute.NewSet(s.Attributes...)
		for k, want := range map[attribute.Key]attribute.Value{
			lotel.AttrTask:     attribute.StringValue(flaky.Name()),
			lotel.AttrID:       attribute.StringValue(h.ID()),
			lotel.AttrAttempt:  attribute.IntValue(i + 1),
			lotel.AttrQueue:    attribute.StringValue(localtasks.QueueDefault),
			lotel.AttrPriority: attribute.IntValue(3),
			lotel.AttrOutcome:  attribute.StringValue([]string{lotel.OutcomeFailure, lotel.OutcomeSuccess}[i]),
		} {
			got, ok := attrs.Value(k)
			require.True(t, ok, "attempt %d has %s", i+1, k)
			require.Equal(t, want, got, "attempt %d's %s", i+1, k)
		}
	}
	require.Equal(t, codes.Error, attempts[0].Status.Code, "the failed attempt's span says so")
	require.Len(t, attempts[0].Events, 1, "the failed attempt's span records its error")
	require.Equal(t, codes.Unset, attempts[1].Status.Code)
	return pid
}

func TestTraceThreadPool(t *testing.T) {
	cfg, exp, tp := tracing(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(context.Background())) }()
	require.Equal(t, os.Getpid(), checkTrace(t, b, exp, tp))
}

func TestTraceProcessPool(t *testing.T) {
	cfg, exp, tp := tracing(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, Config: cfg})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(context.Background())) }()
	require.NotEqual(t, os.Getpid(), checkTrace(t, b, exp, tp), "the run ran in a worker process")
}

// A run enqueued outside any span gets attempt spans that start a trace.
func TestTraceWithoutParent(t *testing.T) {
	cfg, exp, _ := tracing(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(context.Background())) }()
	h, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).Enqueue(context.Background(), b, 1)
	require.NoError(t, err)
	_, err = h.Wait(context.Background())
	require.NoError(t, err)
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	for _, s := range spans {
		require.False(t, s.Parent.IsValid(), "no parent")
	}
}

// The propagator gives no carrier to a ctx with no span, so the run keeps
// none.
func TestPropagatorEmpty(t *testing.T) {
	p := lotel.Propagator(propagation.TraceContext{})
	require.Nil(t, p.Inject(context.Background()))
}
