// Package otel connects localtasks to OpenTelemetry. It is a module of its
// own, github.com/localtasks/localtasks/otel, so that OpenTelemetry never
// enters the go.mod of localtasks.
//
// # Traces
//
// Propagator adapts an OpenTelemetry TextMapPropagator to
// localtasks.Config.Propagator (and the River adapter's): the backend
// captures the trace context of each Enqueue and hands it back to every
// attempt of the run. TracingMiddleware, first in Config.Middleware, makes
// a span of each attempt, a child of the span that was active at Enqueue,
// in whatever process ran it: a trace that starts in an HTTP handler shows
// the handler and each attempt. TracingPropagator is Propagator with a span
// of each Enqueue and EnqueueMany between them, the attempts' parent. On a
// process pool the span is made in the
// parent; a worker whose WorkerInit sets up its own TracerProvider and calls
// localtasks.SetWorkerPropagator(Propagator(...)) runs the task with the
// attempt's span in its ctx, so that the spans the task makes in the worker
// are its children. docs/operations.md ("Tracing") shows one.
//
// # Metrics
//
// NewMetrics records a backend's metrics through the OpenTelemetry
// metrics API, on the meters of any MeterProvider. The counts and
// histograms come from the backend's events, read by one subscription in
// a goroutine of its own (a few map lookups per event, no allocation once
// a task's attribute sets are made): they cost the pool's workers nothing
// but the event they publish anyway. The gauges are read from one
// Snapshot, listing one run at most, each time the metrics are collected
// (each scrape, for Prometheus).
//
// Every metric has the attribute localtasks.backend, the backend's name.
// The names are OpenTelemetry's; the Prometheus exporter writes dots as
// underscores, appends the unit (_seconds) and _total to counters.
//
//	localtasks.runs.finished          counter, {run}; localtasks.task, localtasks.run.status
//	    Runs that reached a final status: SUCCESSFUL, FAILED or CANCELLED.
//	    Prometheus: localtasks_runs_finished_total.
//	localtasks.attempt.duration       histogram, s; localtasks.task, localtasks.attempt.outcome
//	    How long each attempt ran, from its start to its end; the outcome is
//	    success, failure or cancelled. A failed attempt that is retried is
//	    recorded when the next attempt starts.
//	    Prometheus: localtasks_attempt_duration_seconds.
//	localtasks.attempt.lateness       histogram, s; localtasks.task
//	    Punctuality: each attempt's start minus the time it was due, the
//	    latest of its enqueue, its run-after time (WithDelay, WithRunAt, a
//	    retry's delay) and the end of the attempt before. 0 at best.
//	    Prometheus: localtasks_attempt_lateness_seconds.
//	localtasks.runs.active            gauge, {run}; localtasks.run.status
//	    Unfinished runs by status: SCHEDULED and READY are the backlog (the
//	    queue depth, over all the backend's queues), RUNNING the runs in
//	    progress. Prometheus: localtasks_runs_active.
//	localtasks.queue.running          gauge, {run}; messaging.destination.name
//	    Runs running on each queue (Config.Queues), as QueueInfo.Running.
//	    Prometheus: localtasks_queue_running.
//	localtasks.queue.depth            gauge, {run}; messaging.destination.name, localtasks.run.status
//	    Runs waiting on each queue: READY (a pause or the queue's
//	    QueueWorkers may hold them back) and SCHEDULED, as QueueInfo.Ready
//	    and QueueInfo.Scheduled. Prometheus: localtasks_queue_depth.
//	localtasks.workers                gauge, {worker}
//	    The backend's workers: goroutines of a thread pool, processes of a
//	    process pool. Prometheus: localtasks_workers.
//	localtasks.workers.restarts counter, {worker}
//	    Worker processes a process pool started to replace one that died
//	    or retired (Counters.WorkerRestarts); 0 on other backends.
//	    Prometheus: localtasks_workers_restarts_total.
//	localtasks.metrics.events.dropped counter, {event}
//	    Events the subscription lost for it fell more than SubscribeBuffer
//	    behind: the event metrics above miss them. 0 unless the metrics'
//	    goroutine is starved. Prometheus: localtasks_metrics_events_dropped_total.
//
// The histograms' buckets run from a millisecond to an hour.
//
// # Prometheus
//
// To serve the metrics to Prometheus, use OpenTelemetry's Prometheus
// exporter (go.opentelemetry.io/otel/exporters/prometheus): it is a
// MeterProvider's reader that registers on a client_golang registry,
// served by promhttp:
//
//	reg := prometheus.NewRegistry()
//	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
//	...
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
//	m, err := otel.NewMetrics(pool, mp)
//	...
//	defer m.Close()
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The exporter rather than client_golang's own collectors: the metrics are
// written once, against the OpenTelemetry API, and the same MeterProvider
// can push them over OTLP too, or to both; a program that has a
// client_golang registry already gets them on it beside its own.
package otel
