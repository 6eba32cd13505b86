package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	ltotel "github.com/localtasks/localtasks/otel"
)

// traceWorkerEnv, set to a schema, makes TestMain run traceWorkerMain, the
// River worker process of TestTraceAcrossRiverProcesses, instead of the
// tests.
const traceWorkerEnv = "LOCALTASKS_E2E_TRACE_WORKER"

// riverTraced fails its first attempt, so that a run of it has two.
var riverTraced = localtasks.Define("e2e.river.traced", func(ctx context.Context, n int) (int, error) {
	if localtasks.Attempt(ctx) == 1 {
		return 0, errors.New("the first attempt fails")
	}
	return n, nil
}, localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2}))

// exportedSpan is what the worker process writes of each span it ends, a
// JSON object a line on its stdout.
type exportedSpan struct {
	Name    string `json:"name"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Parent  string `json:"parent_span_id"`
	Remote  bool   `json:"parent_remote"`
	Kind    string `json:"kind"`
	RunID   string `json:"run_id"`
	Attempt int64  `json:"attempt"`
	Outcome string `json:"outcome"`
}

// jsonExporter is a span exporter that writes each span as an
// exportedSpan to w.
type jsonExporter struct {
	mu sync.Mutex
	w  io.Writer
}

// ExportSpans writes spans to e.w, a line each.
func (e *jsonExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		out := exportedSpan{Name: s.Name(), TraceID: s.SpanContext().TraceID().String(), SpanID: s.SpanContext().SpanID().String(),
			Parent: s.Parent().SpanID().String(), Remote: s.Parent().IsRemote(), Kind: s.SpanKind().String()}
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case ltotel.AttrID:
				out.RunID = kv.Value.AsString()
			case ltotel.AttrAttempt:
				out.Attempt = kv.Value.AsInt64()
			case ltotel.AttrOutcome:
				out.Outcome = kv.Value.AsString()
			}
		}
		line, err := json.Marshal(out)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(e.w, "%s\n", line); err != nil {
			return err
		}
	}
	return nil
}

// Shutdown does nothing: every span was written as it ended.
func (e *jsonExporter) Shutdown(context.Context) error { return nil }

// traceWorkerMain runs River workers on the schema of traceWorkerEnv, with
// TracingMiddleware on a tracer provider that writes each span to stdout,
// after a first line "ready", until stdin closes.
func traceWorkerMain() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "trace worker:", err)
		return 1
	}
	p, err := pgxpool.New(ctx, os.Getenv(pgURLEnv))
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&jsonExporter{w: os.Stdout}))
	b, err := ltriver.New(ctx, p, ltriver.Config{
		Name: "workers", Schema: os.Getenv(traceWorkerEnv), Workers: 2, FetchPollInterval: 50 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Propagator: ltotel.Propagator(propagation.TraceContext{}),
		Middleware: []localtasks.Middleware{ltotel.TracingMiddleware(tp)},
	})
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Close(cctx); err != nil {
		return fail(err)
	}
	if err := tp.Shutdown(cctx); err != nil {
		return fail(err)
	}
	return 0
}

// startTraceWorker runs traceWorkerMain in a process of its own on schema,
// waits until it is ready and returns the spans it writes, in the order it
// ends them. The process is stopped and reaped at the end of the test.
func startTraceWorker(t *testing.T, schema string) <-chan exportedSpan {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), traceWorkerEnv+"="+schema)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	ready := make(chan string, 1)
	spans := make(chan exportedSpan, 64)
	go func() {
		defer close(spans)
		r := bufio.NewScanner(stdout)
		if r.Scan() {
			ready <- r.Text()
		}
		close(ready)
		for r.Scan() {
			var s exportedSpan
			if err := json.Unmarshal(r.Bytes(), &s); err != nil {
				t.Errorf("the worker wrote %q, not a span: %v", r.Text(), err)
				continue
			}
			spans <- s
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close() // the worker closes its backend and exits
		select {
		case err := <-exited:
			require.NoError(t, err, "the trace worker")
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the trace worker did not exit after its stdin closed: killed")
		}
	})
	select {
	case line := <-ready:
		require.Equal(t, "ready", line, "the trace worker did not start")
	case <-time.After(30 * time.Second):
		t.Fatal("the trace worker did not start in 30s")
	}
	return spans
}

// TestTraceAcrossRiverProcesses enqueues runs on River from this process,
// each under a span of its own recorded by an in-memory exporter, and has
// them run by a River worker in another process (this test binary again,
// with TracingMiddleware), which writes its spans to its stdout: the span
// of each attempt, the two of a run that is retried among them, is a
// child of the span the run was enqueued under, in the same trace, and
// each attempt has a span of its own.
func TestTraceAcrossRiverProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	prop := ltotel.Propagator(propagation.TraceContext{})
	b := newRiverBackend(t, ctx, "e2e_river_trace", ltriver.Config{Name: "web", Propagator: prop})
	spans := startTraceWorker(t, riverSchema("e2e_river_trace"))

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tracer := tp.Tracer("e2e")
	enqueue := func(name string, n int) (localtasks.Handle[int], trace.SpanContext) {
		t.Helper()
		sctx, span := tracer.Start(ctx, name)
		defer span.End()
		h, err := riverTraced.Enqueue(sctx, b, n)
		require.NoError(t, err)
		return h, span.SpanContext()
	}
	first, firstSpan := enqueue("enqueue first", 1)
	second, secondSpan := enqueue("enqueue second", 2)
	require.Len(t, exp.GetSpans(), 2)
	require.NotEqual(t, firstSpan.TraceID(), secondSpan.TraceID(), "two traces")
	for i, h := range []localtasks.Handle[int]{first, second} {
		v, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, i+1, v)
	}

	// Four attempts, two a run, each span written as its attempt ended.
	got := map[string][]exportedSpan{}
	for n := 0; n < 4; n++ {
		select {
		case s, ok := <-spans:
			require.True(t, ok, "the trace worker exited after %d spans", n)
			got[s.RunID] = append(got[s.RunID], s)
		case <-ctx.Done():
			t.Fatalf("%d of the 4 attempts' spans came: %v", n, got)
		}
	}
	require.Len(t, got, 2, "the spans of two runs: %v", got)
	for _, c := range []struct {
		h      localtasks.Handle[int]
		parent trace.SpanContext
	}{{first, firstSpan}, {second, secondSpan}} {
		attempts := got[c.h.ID()]
		require.Len(t, attempts, 2, "run %s: a span for each attempt", c.h.ID())
		for i, s := range attempts {
			require.Equal(t, riverTraced.Name(), s.Name)
			require.Equal(t, trace.SpanKindConsumer.String(), s.Kind)
			require.Equal(t, int64(i+1), s.Attempt, "attempts in order")
			require.Equal(t, c.parent.TraceID().String(), s.TraceID, "attempt %d in the trace of its enqueue", s.Attempt)
			require.Equal(t, c.parent.SpanID().String(), s.Parent, "attempt %d a child of the enqueue's span", s.Attempt)
			require.True(t, s.Remote, "a parent from another process")
		}
		require.NotEqual(t, attempts[0].SpanID, attempts[1].SpanID, "a span of its own for each attempt")
		require.Equal(t, ltotel.OutcomeFailure, attempts[0].Outcome)
		require.Equal(t, ltotel.OutcomeSuccess, attempts[1].Outcome)
	}
}
