package otel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/localtasks/localtasks"
	lotel "github.com/localtasks/localtasks/otel"
)

// spansEnv names the file where a worker process started by
// TestTraceIntoWorkers writes the spans its tasks end, a JSON line each.
const spansEnv = "LOCALTASKS_OTEL_TEST_SPANS"

// workerTracer is the tracer of a worker that ran tracingInit; nil
// elsewhere.
var workerTracer trace.Tracer

// tracingInit sets up tracing in a worker process, as an application's
// worker initialiser would: a TracerProvider whose exporter (tracetest's
// in-memory one, also writing each span to the file spansEnv names, for
// the test in the parent to read), and the worker's propagator.
var tracingInit = localtasks.DefineWorkerInit("otel.test.tracing", func(context.Context) error {
	path := os.Getenv(spansEnv)
	if path == "" {
		return errors.New(spansEnv + " is not set")
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&fileExporter{tracetest.NewInMemoryExporter(), path}))
	workerTracer = tp.Tracer("worker")
	localtasks.SetWorkerPropagator(lotel.Propagator(propagation.TraceContext{}))
	return nil
})

// workerSpan is a span a worker ended, as it wrote it for the parent.
type workerSpan struct {
	Name, TraceID, SpanID, ParentID string
	ParentRemote                    bool
	PID                             int
	RunID                           string
	Attempt                         int
}

// fileExporter is an in-memory exporter that also appends each span it is
// given to a file, in one write, which O_APPEND keeps whole among those of
// the pool's other workers.
type fileExporter struct {
	*tracetest.InMemoryExporter
	path string
}

func (e *fileExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.InMemoryExporter.ExportSpans(ctx, spans); err != nil {
		return err
	}
	f, err := os.OpenFile(e.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, s := range tracetest.SpanStubsFromReadOnlySpans(spans) {
		ws := workerSpan{Name: s.Name, TraceID: s.SpanContext.TraceID().String(), SpanID: s.SpanContext.SpanID().String(),
			ParentID: s.Parent.SpanID().String(), ParentRemote: s.Parent.IsRemote(), PID: os.Getpid()}
		for _, a := range s.Attributes {
			switch a.Key {
			case lotel.AttrID:
				ws.RunID = a.Value.AsString()
			case lotel.AttrAttempt:
				ws.Attempt = int(a.Value.AsInt64())
			}
		}
		line, err := json.Marshal(ws)
		if err != nil {
			return err
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// tracedWork makes a span of its own, as a task's instrumented call would,
// in the worker; it fails its first attempt, and returns its PID on the
// second.
var tracedWork = localtasks.Define("otel.traced", func(ctx context.Context, _ int) (int, error) {
	if workerTracer == nil {
		return 0, errors.New("no tracer: run otel.traced on a process pool whose WorkerInit is tracingInit")
	}
	_, span := workerTracer.Start(ctx, "work", trace.WithAttributes(
		lotel.AttrID.String(localtasks.TaskID(ctx)), lotel.AttrAttempt.Int(localtasks.Attempt(ctx))))
	span.End()
	if localtasks.Attempt(ctx) == 1 {
		return 0, errors.New("first attempts fail")
	}
	return os.Getpid(), nil
})

// readWorkerSpans returns the spans the workers wrote to path.
func readWorkerSpans(t *testing.T, path string) []workerSpan {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var spans []workerSpan
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s workerSpan
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), "line %q", sc.Text())
		spans = append(spans, s)
	}
	require.NoError(t, sc.Err())
	return spans
}

// A span a task makes in a worker process is a child of its attempt's
// span, made in the parent by TracingMiddleware, itself a child of the
// span active at Enqueue: one trace from the handler to the task's own
// work, each attempt with its own span, whichever worker ran it.
func TestTraceIntoWorkers(t *testing.T) {
	cfg, exp, tp := tracing(t)
	path := filepath.Join(t.TempDir(), "spans.jsonl")
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2, WorkerInit: tracingInit,
		Env: []string{spansEnv + "=" + path}, Config: cfg})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	task := tracedWork.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}))
	handlers := map[string]trace.SpanContext{} // by run ID
	var hs []localtasks.Handle[int]
	for i := range 4 {
		hctx, handler := tp.Tracer("test").Start(ctx, "POST /jobs")
		h, err := task.Enqueue(hctx, b, i)
		require.NoError(t, err)
		handler.End()
		handlers[h.ID()] = handler.SpanContext()
		hs = append(hs, h)
	}
	for _, h := range hs {
		pid, err := h.Wait(ctx)
		require.NoError(t, err)
		require.NotEqual(t, os.Getpid(), pid, "the run ran in a worker process")
	}
	require.NoError(t, b.Close(ctx)) // the workers exit, and are reaped

	type key struct {
		id      string
		attempt int
	}
	attempts := map[key]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		if s.Name != tracedWork.Name() {
			continue
		}
		var k key
		for _, a := range s.Attributes {
			switch a.Key {
			case lotel.AttrID:
				k.id = a.Value.AsString()
			case lotel.AttrAttempt:
				k.attempt = int(a.Value.AsInt64())
			}
		}
		attempts[k] = s
	}
	works := map[key]workerSpan{}
	for _, s := range readWorkerSpans(t, path) {
		require.Equal(t, "work", s.Name)
		require.NotEqual(t, os.Getpid(), s.PID, "written by a worker process")
		k := key{s.RunID, s.Attempt}
		require.NotContains(t, works, k, "one span a task's attempt")
		works[k] = s
	}
	require.Len(t, attempts, 2*len(hs), "a span per attempt in the parent")
	require.Len(t, works, 2*len(hs), "a span per attempt in the workers")
	for id, handler := range handlers {
		for n := 1; n <= 2; n++ {
			at, ok := attempts[key{id, n}]
			require.True(t, ok, "run %s attempt %d has its span", id, n)
			require.Equal(t, handler.TraceID(), at.SpanContext.TraceID(), "the attempt is in its handler's trace")
			require.Equal(t, handler.SpanID(), at.Parent.SpanID(), "the attempt's parent is the span active at Enqueue")
			w := works[key{id, n}]
			require.Equal(t, handler.TraceID().String(), w.TraceID, "the worker's span is in the handler's trace")
			require.Equal(t, at.SpanContext.SpanID().String(), w.ParentID,
				fmt.Sprintf("the worker's span of run %s attempt %d is a child of that attempt's span", id, n))
			require.True(t, w.ParentRemote, "its parent came through the carrier")
		}
		require.NotEqual(t, attempts[key{id, 1}].SpanContext.SpanID(), attempts[key{id, 2}].SpanContext.SpanID())
	}
}
