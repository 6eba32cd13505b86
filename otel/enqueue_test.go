package otel_test

import (
	"context"
	"log/slog"
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

// spansNamed returns the spans exp holds of that name, in the order they
// ended.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// With TracingPropagator the trace is handler → enqueue → each attempt, on
// the thread pool and the process pool alike.
func TestTracingPropagator(t *testing.T) {
	for _, kind := range []string{"threadpool", "procpool"} {
		t.Run(kind, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
			cfg := localtasks.Config{
				Name:       t.Name(),
				Logger:     slog.New(slog.DiscardHandler),
				Queues:     []string{localtasks.QueueDefault, "reports"},
				Propagator: lotel.TracingPropagator(propagation.TraceContext{}, tp),
				Middleware: []localtasks.Middleware{lotel.TracingMiddleware(tp)},
			}
			var b localtasks.Backend
			var err error
			if kind == "threadpool" {
				b, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg})
			} else {
				b, err = localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: cfg, MaxWorkers: 1})
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, b.Close(context.Background())) }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			hctx, handler := tp.Tracer("test").Start(ctx, "GET /report")
			h, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}), localtasks.WithQueue("reports")).Enqueue(hctx, b, 1)
			require.NoError(t, err)
			many, err := flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).EnqueueMany(hctx, b, []int{1, 2})
			require.NoError(t, err)
			_, err = flaky.Using(localtasks.WithQueue("nowhere")).Enqueue(hctx, b, 1)
			require.Error(t, err)
			handler.End()
			_, err = h.Wait(ctx)
			require.NoError(t, err)
			for _, m := range many {
				_, err = m.Wait(ctx)
				require.NoError(t, err)
			}

			enqueues := spansNamed(exp, "enqueue "+flaky.Name())
			require.Len(t, enqueues, 3, "a span per Enqueue and EnqueueMany, the failed one too")
			for _, s := range enqueues {
				require.Equal(t, handler.SpanContext().SpanID(), s.Parent.SpanID(), "the enqueue's parent is the handler's span")
				require.Equal(t, trace.SpanKindProducer, s.SpanKind)
			}
			one, batch, failed := enqueues[0], enqueues[1], enqueues[2]
			attrs := attribute.NewSet(one.Attributes...)
			for k, want := range map[attribute.Key]attribute.Value{
				lotel.AttrBackend: attribute.StringValue(t.Name()),
				lotel.AttrTask:    attribute.StringValue(flaky.Name()),
				lotel.AttrQueue:   attribute.StringValue("reports"),
				lotel.AttrRuns:    attribute.IntValue(1),
				lotel.AttrID:      attribute.StringValue(h.ID()),
			} {
				got, ok := attrs.Value(k)
				require.True(t, ok, "the enqueue's span has %s", k)
				require.Equal(t, want, got, "the enqueue's %s", k)
			}
			batchAttrs := attribute.NewSet(batch.Attributes...)
			ids, ok := batchAttrs.Value(lotel.AttrIDs)
			require.True(t, ok)
			require.Equal(t, []string{many[0].ID(), many[1].ID()}, ids.AsStringSlice())
			require.Equal(t, codes.Error, failed.Status.Code, "the refused enqueue's span says so")
			require.Len(t, failed.Events, 1, "and records the error")

			parents := map[string]trace.SpanID{h.ID(): one.SpanContext.SpanID(),
				many[0].ID(): batch.SpanContext.SpanID(), many[1].ID(): batch.SpanContext.SpanID()}
			attempts := spansNamed(exp, flaky.Name())
			require.Len(t, attempts, 6, "two attempts of each of three runs")
			for _, s := range attempts {
				set := attribute.NewSet(s.Attributes...)
				id, _ := set.Value(lotel.AttrID)
				require.Equal(t, parents[id.AsString()], s.Parent.SpanID(), "an attempt's parent is its enqueue's span")
				require.Equal(t, handler.SpanContext().TraceID(), s.SpanContext.TraceID())
			}
		})
	}
}
