package otel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/localtasks/localtasks"
)

// The attributes of an attempt's span beside AttrTask, AttrQueue and
// AttrOutcome (whose values on a span are those of the metrics, or
// OutcomeTimedOut).
const (
	AttrID       = attribute.Key("localtasks.id")       // the run's ID
	AttrAttempt  = attribute.Key("localtasks.attempt")  // the attempt's number, from 1
	AttrPriority = attribute.Key("localtasks.priority") // the run's priority
)

// OutcomeTimedOut is AttrOutcome on the span of an attempt that ran past
// its timeout; the metrics count it a failure.
const OutcomeTimedOut = "timedout"

// TracingMiddleware returns a middleware, for Config.Middleware, that makes
// a span of each attempt, named after the task, of kind consumer, with the
// attributes AttrTask, AttrID, AttrAttempt, AttrQueue, AttrPriority and
// AttrOutcome. Its parent is the span of the attempt's ctx: with
// Config.Propagator set to Propagator, the span that was active when the
// run was enqueued, in whatever process that was; so a trace that starts
// in an HTTP handler shows the handler and each attempt; with
// TracingPropagator, the enqueue's span between them. An
// attempt that fails records its error and sets the span's status to Error;
// one that panics does too, and panics on. Put it first in Config.Middleware,
// so that the span covers the other middleware. On a process pool it runs in
// the parent, around the remote attempt; the task's ctx in the worker
// descends from the span if the worker has a propagator: call
// localtasks.SetWorkerPropagator(Propagator(...)) in the pool's WorkerInit,
// where the worker sets up its TracerProvider, so that the spans the task
// makes there are the attempt's children.
func TracingMiddleware(tp trace.TracerProvider) localtasks.Middleware {
	tracer := tp.Tracer(ScopeName)
	return func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) (err error) {
		ctx, span := tracer.Start(ctx, ex.Task, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				AttrTask.String(ex.Task),
				AttrID.String(ex.ID),
				AttrAttempt.Int(ex.Attempt),
				AttrQueue.String(ex.Queue),
				AttrPriority.Int(ex.Priority),
			))
		defer span.End()
		panicked := true
		defer func() {
			if panicked {
				r := recover()
				span.SetAttributes(AttrOutcome.String(OutcomeFailure))
				span.SetStatus(codes.Error, "the attempt panicked")
				span.AddEvent("panic", trace.WithAttributes(attribute.String("panic.value", fmtPanic(r))))
				panic(r)
			}
		}()
		err = next(ctx)
		panicked = false
		span.SetAttributes(AttrOutcome.String(outcome(err)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// outcome names how an attempt that returned err ended.
func outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.Is(err, localtasks.ErrTimeout):
		return OutcomeTimedOut
	case errors.Is(err, localtasks.ErrCancelled):
		return OutcomeCancelled
	}
	return OutcomeFailure
}
