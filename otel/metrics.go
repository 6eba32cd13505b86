package otel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/localtasks/localtasks"
)

// ScopeName is the instrumentation scope of the meter NewMetrics asks its
// MeterProvider for, and of the tracer TracingMiddleware asks its
// TracerProvider for.
const ScopeName = "github.com/localtasks/localtasks/otel"

// The attribute keys of the metrics; see the package doc for which metric
// carries which.
const (
	// AttrBackend is the backend's name (Backend.Name).
	AttrBackend = attribute.Key("localtasks.backend")
	// AttrTask is the task's name (Definition.Name).
	AttrTask = attribute.Key("localtasks.task")
	// AttrStatus is a run's status: SUCCESSFUL, FAILED or CANCELLED on
	// localtasks.runs.finished; SCHEDULED, READY or RUNNING on
	// localtasks.runs.active; SCHEDULED or READY on
	// localtasks.queue.depth.
	AttrStatus = attribute.Key("localtasks.run.status")
	// AttrOutcome is how an attempt ended: success, failure or
	// cancelled.
	AttrOutcome = attribute.Key("localtasks.attempt.outcome")
	// AttrQueue is the queue's name, as OpenTelemetry's messaging
	// semantic conventions name a destination.
	AttrQueue = attribute.Key("messaging.destination.name")
)

// The outcomes of an attempt, the values of AttrOutcome.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeCancelled = "cancelled"
)

// SubscribeBuffer is how many events the subscription of Metrics may fall
// behind before it loses the oldest (see localtasks.Subscription): lost
// events are counted by localtasks.metrics.events.dropped.
const SubscribeBuffer = 8192

// testRecorded, when a test sets it before NewMetrics, is called with
// each event once it is recorded.
var testRecorded func(localtasks.Event)

// secondsBuckets are the bucket bounds, in seconds, of the duration
// histograms: from a millisecond to an hour.
var secondsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// Metrics records a backend's metrics through the OpenTelemetry metrics
// API: counts and histograms from the backend's events, read by one
// subscription in a goroutine of its own, and gauges read from a Snapshot
// when the metrics are collected. The package doc lists them. Close it
// before closing its MeterProvider.
type Metrics struct {
	sub  *localtasks.Subscription
	snap localtasks.Snapshotter
	reg  metric.Registration

	backend attribute.KeyValue

	finished   metric.Int64Counter
	duration   metric.Float64Histogram
	lateness   metric.Float64Histogram
	active     metric.Int64ObservableUpDownCounter
	queueRun   metric.Int64ObservableUpDownCounter
	queueDepth metric.Int64ObservableUpDownCounter
	workers    metric.Int64ObservableUpDownCounter
	dropped    metric.Int64ObservableCounter
	restarts   metric.Int64ObservableCounter
	byTaskCode map[taskCode]*attrOpts // used by the reader goroutine only

	// starts holds, for each run whose attempt started and whose end
	// was not recorded yet, when that attempt started. Used by the
	// reader goroutine only.
	starts      map[string]time.Time
	seenDropped uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// attrOpts are an attribute set as the options of Add and Record, made
// once: a variadic call with a slice in hand allocates nothing.
type attrOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// taskCode is the key of a cached attribute set: a task and a status or
// an outcome (code is a Status, or 100 plus an outcome's index).
type taskCode struct {
	task string
	code int
}

// The codes of the outcomes and of the lateness, in taskCode.
const (
	codeSuccess = 100 + iota
	codeFailure
	codeCancelled
	codeLateness
)

// NewMetrics starts recording the metrics of b on meters of mp (see the
// package doc for the list). b must be a localtasks.Subscriber and a
// localtasks.Snapshotter, as every backend of localtasks and the River
// adapter are; the error says so when it is not, or when mp refuses an
// instrument. Runs before NewMetrics are not counted: call it before
// enqueueing. Close the Metrics when done.
func NewMetrics(b localtasks.Backend, mp metric.MeterProvider) (*Metrics, error) {
	subscriber, ok := b.(localtasks.Subscriber)
	if !ok {
		return nil, fmt.Errorf("localtasks/otel: backend %q (%T) has no events to count: give a localtasks.Subscriber, such as a thread or process pool", b.Name(), b)
	}
	snap, ok := b.(localtasks.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("localtasks/otel: backend %q (%T) cannot describe its runs and workers: give a localtasks.Snapshotter, such as a thread or process pool", b.Name(), b)
	}
	if mp == nil {
		return nil, errors.New("localtasks/otel: the MeterProvider is nil: pass one, such as go.opentelemetry.io/otel/sdk/metric's, or otel.GetMeterProvider()")
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{
		snap:       snap,
		backend:    AttrBackend.String(b.Name()),
		byTaskCode: make(map[taskCode]*attrOpts),
		starts:     make(map[string]time.Time),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	m.finished, err = meter.Int64Counter("localtasks.runs.finished",
		metric.WithUnit("{run}"),
		metric.WithDescription("Runs that reached a final status, by task and status."))
	add(err)
	m.duration, err = meter.Float64Histogram("localtasks.attempt.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long attempts ran, from their start to their end, by task and outcome."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	add(err)
	m.lateness, err = meter.Float64Histogram("localtasks.attempt.lateness",
		metric.WithUnit("s"),
		metric.WithDescription("How late attempts started: their start minus the time they were due, by task."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	add(err)
	m.active, err = meter.Int64ObservableUpDownCounter("localtasks.runs.active",
		metric.WithUnit("{run}"),
		metric.WithDescription("Unfinished runs by status: SCHEDULED and READY are the backlog, RUNNING the runs in progress."))
	add(err)
	m.queueRun, err = meter.Int64ObservableUpDownCounter("localtasks.queue.running",
		metric.WithUnit("{run}"),
		metric.WithDescription("Runs running on each queue."))
	add(err)
	m.queueDepth, err = meter.Int64ObservableUpDownCounter("localtasks.queue.depth",
		metric.WithUnit("{run}"),
		metric.WithDescription("Runs waiting on each queue, by status: READY ones may start now (a pause or the queue's workers bound may hold them back), SCHEDULED ones later."))
	add(err)
	m.workers, err = meter.Int64ObservableUpDownCounter("localtasks.workers",
		metric.WithUnit("{worker}"),
		metric.WithDescription("The backend's workers: goroutines of a thread pool, processes of a process pool."))
	add(err)
	m.restarts, err = meter.Int64ObservableCounter("localtasks.workers.restarts",
		metric.WithUnit("{worker}"),
		metric.WithDescription("Worker processes a process pool started to replace one that died or retired (Counters.WorkerRestarts); 0 on other backends."))
	add(err)
	m.dropped, err = meter.Int64ObservableCounter("localtasks.metrics.events.dropped",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events the metrics' subscription lost for it fell behind: the event metrics miss them."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("localtasks/otel: the MeterProvider refused an instrument: %w", err)
	}

	m.sub = subscriber.Subscribe(SubscribeBuffer)
	m.reg, err = meter.RegisterCallback(m.observe, m.active, m.queueRun, m.queueDepth, m.workers, m.restarts, m.dropped)
	if err != nil {
		m.sub.Close()
		return nil, fmt.Errorf("localtasks/otel: the MeterProvider refused the gauges' callback: %w", err)
	}
	go m.read()
	return m, nil
}

// Close stops recording: it ends the subscription and unregisters the
// gauges. Closing twice is not an error.
func (m *Metrics) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.stop)
		m.sub.Close()
		<-m.done
		err = m.reg.Unregister()
	})
	return err
}

// read records the events until the subscription ends or Close.
func (m *Metrics) read() {
	defer close(m.done)
	buf := make([]localtasks.Event, 64)
	ctx := context.Background()
	for {
		select {
		case <-m.sub.Ready():
		case <-m.stop:
			return
		}
		n, err := m.sub.Read(buf)
		if err != nil {
			return
		}
		if d := m.sub.Dropped(); d != m.seenDropped {
			// The end of some attempts was lost: forget their starts
			// rather than keep them for ever.
			m.seenDropped = d
			clear(m.starts)
		}
		for i := range buf[:n] {
			m.record(ctx, &buf[i])
			if testRecorded != nil {
				testRecorded(buf[i])
			}
			buf[i] = localtasks.Event{} // let the run's snapshot go
		}
	}
}

// record records one event: O(1), allocating only the first time a task
// shows a status or an outcome, and when starts grows.
func (m *Metrics) record(ctx context.Context, ev *localtasks.Event) {
	r := &ev.Result
	switch ev.Kind {
	case localtasks.EventStarted:
		start := r.LastAttemptedAt
		if prev, ok := m.starts[r.ID]; ok {
			// A retry: the attempt before failed, at its error's time.
			if e := lastError(r); e != nil {
				m.duration.Record(ctx, e.At.Sub(prev).Seconds(), m.attrs(r.Task, codeFailure).rec...)
			}
		}
		m.starts[r.ID] = start
		m.lateness.Record(ctx, max(0, start.Sub(due(r)).Seconds()), m.attrs(r.Task, codeLateness).rec...)
	case localtasks.EventFinished:
		m.finished.Add(ctx, 1, m.attrs(r.Task, int(r.Status)).add...)
		start, ok := m.starts[r.ID]
		if !ok {
			return // it never started, or its start was lost
		}
		delete(m.starts, r.ID)
		end, code := r.FinishedAt, codeSuccess
		switch e := lastError(r); {
		case e != nil && e.Attempt == r.Attempts:
			// Its last attempt failed; cancelled later, if at all.
			end, code = e.At, codeFailure
		case r.Status == localtasks.StatusCancelled:
			code = codeCancelled
		case r.Status == localtasks.StatusFailed:
			code = codeFailure
		}
		m.duration.Record(ctx, max(0, end.Sub(start).Seconds()), m.attrs(r.Task, code).rec...)
	}
}

// lastError returns the error of r's last failed attempt; nil if none.
func lastError(r *localtasks.TaskResult) *localtasks.TaskError {
	if len(r.Errors) == 0 {
		return nil
	}
	return &r.Errors[len(r.Errors)-1]
}

// due returns when r's latest attempt was due: the latest of its enqueue,
// its run-after time (which a retry's delay sets) and, for a retry, the end
// of the attempt before.
func due(r *localtasks.TaskResult) time.Time {
	t := r.EnqueuedAt
	if r.RunAfter.After(t) {
		t = r.RunAfter
	}
	if e := lastError(r); e != nil && r.Attempts > 1 && e.At.After(t) {
		t = e.At
	}
	return t
}

// attrs returns the attribute set of the backend, task and code, made
// once for each.
func (m *Metrics) attrs(task string, code int) *attrOpts {
	k := taskCode{task, code}
	if o, ok := m.byTaskCode[k]; ok {
		return o
	}
	kvs := []attribute.KeyValue{m.backend, AttrTask.String(task)}
	switch code {
	case codeSuccess:
		kvs = append(kvs, AttrOutcome.String(OutcomeSuccess))
	case codeFailure:
		kvs = append(kvs, AttrOutcome.String(OutcomeFailure))
	case codeCancelled:
		kvs = append(kvs, AttrOutcome.String(OutcomeCancelled))
	case codeLateness:
	default:
		kvs = append(kvs, AttrStatus.String(localtasks.Status(code).String()))
	}
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	a := &attrOpts{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
	m.byTaskCode[k] = a
	return a
}

// The status attributes of localtasks.queue.depth.
var (
	statusReady     = AttrStatus.String(localtasks.StatusReady.String())
	statusScheduled = AttrStatus.String(localtasks.StatusScheduled.String())
)

// observe reads the gauges from one Snapshot that lists one run at most.
func (m *Metrics) observe(ctx context.Context, o metric.Observer) error {
	snap, err := m.snap.Snapshot(ctx, localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}, Limit: 1})
	if err != nil {
		return fmt.Errorf("localtasks/otel: snapshot of backend %q for its gauges: %w", m.backend.Value.AsString(), err)
	}
	for _, st := range []localtasks.Status{localtasks.StatusScheduled, localtasks.StatusReady, localtasks.StatusRunning} {
		o.ObserveInt64(m.active, int64(snap.Counts.Of(st)), metric.WithAttributes(m.backend, AttrStatus.String(st.String())))
	}
	for _, q := range snap.Queues {
		queue := AttrQueue.String(q.Name)
		o.ObserveInt64(m.queueRun, int64(q.Running), metric.WithAttributes(m.backend, queue))
		o.ObserveInt64(m.queueDepth, int64(q.Ready), metric.WithAttributes(m.backend, queue, statusReady))
		o.ObserveInt64(m.queueDepth, int64(q.Scheduled), metric.WithAttributes(m.backend, queue, statusScheduled))
	}
	o.ObserveInt64(m.workers, int64(len(snap.Workers)), metric.WithAttributes(m.backend))
	o.ObserveInt64(m.restarts, int64(snap.Counters.WorkerRestarts), metric.WithAttributes(m.backend))
	o.ObserveInt64(m.dropped, int64(m.sub.Dropped()), metric.WithAttributes(m.backend))
	return nil
}
