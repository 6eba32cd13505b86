package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/localtasks/localtasks"
)

// The attributes of an enqueue's span beside AttrBackend, AttrTask,
// AttrQueue and, for one run, AttrID.
const (
	// AttrRuns counts the runs an enqueue asked for: 1 for Enqueue, the
	// arguments for EnqueueMany.
	AttrRuns = attribute.Key("messaging.batch.message_count")
	// AttrIDs lists the IDs an EnqueueMany queued.
	AttrIDs = attribute.Key("localtasks.ids")
)

// TracingPropagator is Propagator, with a span of each enqueue: a
// localtasks.EnqueueTracer. Each Enqueue and EnqueueMany of a backend
// whose Config.Propagator it is makes a span named "enqueue" and the
// task's name, of kind producer, from the start of the call to its
// return, with the attributes AttrBackend, AttrTask, AttrQueue, AttrRuns,
// and AttrID (one run) or AttrIDs (a batch) once it is queued; an enqueue
// that fails records its error and sets the span's status to Error. Its
// parent is the span of the Enqueue's ctx, and it is the span the runs
// carry: TracingMiddleware's attempt spans are its children. So a trace
// that starts in an HTTP handler shows the handler, the enqueue, and each
// attempt of each run, in whatever process ran it.
func TracingPropagator(p propagation.TextMapPropagator, tp trace.TracerProvider) localtasks.EnqueueTracer {
	return tracingPropagator{propagator{p}, tp.Tracer(ScopeName)}
}

// tracingPropagator is TracingPropagator's.
type tracingPropagator struct {
	propagator
	tracer trace.Tracer
}

// StartEnqueue starts the span of the enqueue e describes.
func (p tracingPropagator) StartEnqueue(ctx context.Context, e localtasks.EnqueueInfo) (context.Context, func([]string, error)) {
	ctx, span := p.tracer.Start(ctx, "enqueue "+e.Task, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			AttrBackend.String(e.Backend),
			AttrTask.String(e.Task),
			AttrQueue.String(e.Queue),
			AttrRuns.Int(e.Runs),
		))
	return ctx, func(ids []string, err error) {
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case len(ids) == 1:
			span.SetAttributes(AttrID.String(ids[0]))
		default:
			span.SetAttributes(AttrIDs.StringSlice(ids))
		}
		span.End()
	}
}
