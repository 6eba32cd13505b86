package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
	"github.com/localtasks/localtasks/internal/cli"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait of these tests: a failure, not a delay.
const waitLimit = 10 * time.Second

// stepArgs is the argument of the test tasks. Gate names a gate the test
// holds (see newGate); "" for a run that returns at once.
type stepArgs struct {
	Gate string
	Shop string
	N    int
}

// steps starts, waits for its gate's step, reports progress 1 of 2, then
// ends as its gate's finish says: "done", or the error sent.
var steps = localtasks.Define("cli_test.steps", func(ctx context.Context, a stepArgs) (string, error) {
	if a.Gate == "" {
		return "done", nil
	}
	g, ok := gates.Load(a.Gate)
	if !ok {
		return "", fmt.Errorf("no gate %q: its test has ended", a.Gate)
	}
	return g.(*gate).run(ctx)
})

func (g *gate) run(ctx context.Context) (string, error) {
	close(g.started)
	select {
	case <-g.step:
	case <-g.abandon:
		return "", errors.New("the test ended")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	localtasks.SetProgress(ctx, 1, 2, "half way")
	close(g.reported)
	select {
	case err := <-g.finish:
		if err != nil {
			return "", err
		}
		return "done", nil
	case <-g.abandon:
		return "", errors.New("the test ended")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// hostile fails with an error full of terminal escape sequences.
var hostile = localtasks.Define("cli_test.hostile", func(ctx context.Context, _ struct{}) (int, error) {
	return 0, errors.New("\x1b[2J cleared \x1b]0;title\x07 \x1b]52;c;Zm9v\x07 \u009b31m\nsecond line")
})

// panics panics, for a FAILED run with a stack.
var panics = localtasks.Define("cli_test.panics", func(ctx context.Context, _ struct{}) (int, error) {
	panic("kaboom")
})

// gate lets a test drive a run of steps.
type gate struct {
	name     string
	started  chan struct{} // closed by the run when it starts
	step     chan struct{} // closed by the test: report progress
	reported chan struct{} // closed by the run once it has
	finish   chan error    // the test sends how the run ends
	abandon  chan struct{} // closed when the test ends
}

var (
	gates   sync.Map // name → *gate
	gateSeq atomic.Int64
)

// newGate returns a new gate; when the test ends, a run still waiting on it
// finishes.
func newGate(t *testing.T) *gate {
	g := &gate{
		name:    fmt.Sprintf("gate-%d", gateSeq.Add(1)),
		started: make(chan struct{}), step: make(chan struct{}), reported: make(chan struct{}),
		finish: make(chan error, 1), abandon: make(chan struct{}),
	}
	gates.Store(g.name, g)
	t.Cleanup(func() {
		close(g.abandon)
		gates.Delete(g.name)
	})
	return g
}

func (g *gate) waitStarted(t *testing.T) {
	t.Helper()
	wait(t, g.started, "the run to start")
}

// stepAndWait lets the run report its progress, and waits until it has.
func (g *gate) stepAndWait(t *testing.T) {
	t.Helper()
	close(g.step)
	wait(t, g.reported, "the run to report progress")
}

func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitLimit):
		t.Fatalf("waited %v for %s", waitLimit, what)
	}
}

// env is a live dashboard over a fresh thread pool, served under /tasks.
type env struct {
	pool *localtasks.ThreadPoolBackend
	url  string // the dashboard's base URL
	srv  *httptest.Server
}

type envConfig struct {
	name    string // the pool's name; "" for a private one, labelled backend-1
	workers int
	actions bool
	runLogs localtasks.RunLogs
}

func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		// The tests read what runs log from the dashboard.
		Config:     localtasks.Config{Name: cfg.name, RunLogs: cfg.runLogs, Logger: slog.New(slog.DiscardHandler)},
		MaxWorkers: cfg.workers,
	})
	require.NoError(t, err)
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Actions: cfg.actions})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/tasks", h))
	// Cleanups run last first: the pool closes first, which ends any event
	// stream still open, then the server.
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(t, pool.Close(ctx))
	})
	return &env{pool: pool, url: srv.URL + "/tasks", srv: srv}
}

// result is how a run of the command went.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command with --url set to the dashboard's.
func (e *env) run(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, context.Background(), append([]string{"--url", e.url}, args...), nil)
}

// runCLI runs the command with args and the environment env.
func runCLI(t *testing.T, ctx context.Context, args []string, env map[string]string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// startCLI runs the command in the background, its output in out; the
// returned channel gets its exit status.
func (e *env) startCLI(ctx context.Context, out, errOut *syncBuffer, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, append([]string{"--url", e.url}, args...), func(string) string { return "" }, out, errOut)
	}()
	return done
}

func waitCode(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(waitLimit):
		t.Fatalf("the command did not end within %v", waitLimit)
		return 0
	}
}

// syncBuffer is an output a test can wait on while the command writes it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // gets a value after a write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds substr.
func (s *syncBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	limit := time.After(waitLimit)
	for !strings.Contains(s.String(), substr) {
		select {
		case <-s.changed:
		case <-limit:
			t.Fatalf("waited %v for %q in the output:\n%s", waitLimit, substr, s.String())
		}
	}
}

// finished enqueues a run of steps that returns at once, and waits for it.
func finished(t *testing.T, pool localtasks.Backend, args stepArgs) string {
	t.Helper()
	h, err := steps.Enqueue(context.Background(), pool, args)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err = pool.Wait(ctx, h.ID())
	require.NoError(t, err)
	return h.ID()
}

// running enqueues a run of steps on a new gate, and waits until it has
// started and, if step, reported its progress.
func running(t *testing.T, pool localtasks.Backend, step bool) (string, *gate) {
	t.Helper()
	g := newGate(t)
	h, err := steps.Enqueue(context.Background(), pool, stepArgs{Gate: g.name})
	require.NoError(t, err)
	g.waitStarted(t)
	if step {
		g.stepAndWait(t)
	}
	return h.ID(), g
}

// lineWith returns the first line of out that holds substr; a substr that
// starts with a newline matches at the start of a line.
func lineWith(t *testing.T, out, substr string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.Contains("\n"+line, substr) {
			return strings.TrimRight(line, "\n")
		}
	}
	t.Fatalf("no line holds %q in:\n%s", substr, out)
	return ""
}
