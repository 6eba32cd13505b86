package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
	"github.com/localtasks/localtasks/internal/cli"
)

// fakePauser is a pool whose pauses the test keeps: they hold nothing back,
// but they are listed as a pool lists its own, in Pauses and in snapshots
// with its queues, and checked as a pool checks them. The tests of the
// commands' output use it; TestPauseOnAThreadPool uses a real pool.
type fakePauser struct {
	localtasks.Controller
	queues []string

	mu     sync.Mutex
	pauses []localtasks.Pause
}

func (f *fakePauser) Pause(ctx context.Context, p localtasks.Pause) error { return f.change(p, true) }

func (f *fakePauser) Resume(ctx context.Context, p localtasks.Pause) error { return f.change(p, false) }

func (f *fakePauser) change(p localtasks.Pause, on bool) error {
	switch {
	case p.Queue != "" && !slices.Contains(f.queues, p.Queue):
		return fmt.Errorf("fake: pause %v: it is not one of the queues %q: %w", p, f.queues, localtasks.ErrInvalidTask)
	case p.Task != "":
		if _, ok := localtasks.Lookup(p.Task); !ok {
			return fmt.Errorf("fake: pause %v: no task of that name is defined: %w", p, localtasks.ErrInvalidTask)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.pauses, p)
	switch {
	case on && i < 0:
		f.pauses = append(f.pauses, p)
		slices.SortStableFunc(f.pauses, func(a, b localtasks.Pause) int { // queues first
			return strings.Compare(a.Task, b.Task)
		})
	case !on && i >= 0:
		f.pauses = slices.Delete(f.pauses, i, i+1)
	}
	return nil
}

func (f *fakePauser) Pauses() []localtasks.Pause {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pauses)
}

func (f *fakePauser) Snapshot(ctx context.Context, opts localtasks.SnapshotOptions) (localtasks.Snapshot, error) {
	snap, err := f.Controller.Snapshot(ctx, opts)
	snap.Pauses = f.Pauses()
	snap.Queues = nil
	for i, q := range f.queues {
		snap.Queues = append(snap.Queues, localtasks.QueueInfo{Name: q, MaxWorkers: i, // 0 for the first: all
			Paused: slices.Contains(snap.Pauses, localtasks.Pause{Queue: q})})
	}
	return snap, err
}

// newPauseEnv is newEnv, with actions on, over a pool of one worker with
// the queues "default" and "bulk", behind a fakePauser if fake.
func newPauseEnv(t *testing.T, fake bool) *env {
	t.Helper()
	queues := []string{"default", "bulk"}
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: queues}, MaxWorkers: 1})
	require.NoError(t, err)
	var b localtasks.Backend = pool
	if fake {
		b = &fakePauser{Controller: pool, queues: queues}
	}
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{b}, Actions: true})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/tasks", h))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(t, pool.Close(ctx))
	})
	return &env{pool: pool, url: srv.URL + "/tasks", srv: srv}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	e := newPauseEnv(t, true)

	r := e.run(t, "pause", "--queue", "bulk")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, `Paused queue "bulk" on every backend that can pause.
Paused:
BACKEND    PAUSE
backend-1  queue "bulk"
`, r.stdout)

	r = e.run(t, "pause", "--backend", "backend-1", "--task", "cli_test.steps")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, `Paused task "cli_test.steps" on backend backend-1.
Paused:
BACKEND    PAUSE
backend-1  queue "bulk"
backend-1  task "cli_test.steps"
`, r.stdout)

	// The snapshot: the queues, then what is paused.
	r = e.run(t, "snapshot")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `
QUEUE    RUNNING  MAX WORKERS  STATE
default  0        all          active
bulk     0        1            paused

PAUSED
queue "bulk"
task "cli_test.steps"
`)

	r = e.run(t, "resume", "--queue", "bulk")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, `Resumed queue "bulk" on every backend that can pause.
Paused:
BACKEND    PAUSE
backend-1  task "cli_test.steps"
`, r.stdout)
	r = e.run(t, "resume", "--task", "cli_test.steps")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "Resumed task \"cli_test.steps\" on every backend that can pause.\nNothing is paused.\n", r.stdout)

	r = e.run(t, "snapshot")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "bulk     0        1            active\n")
	require.NotContains(t, r.stdout, "PAUSED")
}

func TestPauseErrors(t *testing.T) {
	t.Parallel()
	e := newPauseEnv(t, true)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "--queue", "nope"}, `pause on backend "backend-1": `},
		{[]string{"resume", "--task", "cli_test.nothing"}, `resume on backend "backend-1": `},
		{[]string{"pause", "--backend", "elsewhere", "--queue", "bulk"}, `no backend "elsewhere": use the name of one the snapshot lists`},
	} {
		r := e.run(t, tc.args...)
		require.Equal(t, cli.ExitError, r.code, "%q", tc.args)
		require.True(t, strings.HasPrefix(r.stderr, "localtasks "+tc.args[0]+": "), r.stderr)
		require.Contains(t, r.stderr, tc.want, "%q", tc.args)
		require.Empty(t, r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause"}, "localtasks pause: give --queue or --task: the queue or the task to pause\nRun 'localtasks help pause' for usage.\n"},
		{[]string{"resume", "--queue", "bulk", "--task", "cli_test.steps"},
			"localtasks resume: give --queue or --task, not both: resume each with a command of its own\nRun 'localtasks help resume' for usage.\n"},
	} {
		r := e.run(t, tc.args...)
		require.Equal(t, cli.ExitError, r.code, "%q", tc.args)
		require.Equal(t, tc.want, r.stderr)
		require.Empty(t, r.stdout)
	}

	// A read-only dashboard refuses them as every action.
	ro := newEnv(t, envConfig{workers: 1})
	for _, cmd := range []string{"pause", "resume"} {
		r := ro.run(t, cmd, "--queue", "default")
		require.Equal(t, cli.ExitError, r.code)
		require.Equal(t, "localtasks "+cmd+": actions are disabled on this dashboard: the application must set dashboard.Config{Actions: true}\n", r.stderr)
	}
}

// TestPauseOnAThreadPool pauses a real pool's queue with the command: a run
// of it stays READY while a run of another queue, enqueued after it,
// finishes on the pool's only worker; snapshot shows the queue paused;
// once resumed, the held run finishes.
func TestPauseOnAThreadPool(t *testing.T) {
	t.Parallel()
	e := newPauseEnv(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	r := e.run(t, "pause", "--queue", "bulk")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "backend-1  queue \"bulk\"\n")
	held, err := steps.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, e.pool, stepArgs{Shop: "held"})
	require.NoError(t, err)
	passed := finished(t, e.pool, stepArgs{Shop: "passed"})

	r = e.run(t, "result", held.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Regexp(t, regexp.MustCompile(`(?m)^Status: +READY$`), r.stdout)
	r = e.run(t, "snapshot")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "bulk     0        all          paused\n")
	require.Contains(t, r.stdout, "PAUSED\nqueue \"bulk\"\n")
	require.Contains(t, r.stdout, passed)

	r = e.run(t, "resume", "--queue", "bulk")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "Nothing is paused.\n")
	res, err := e.pool.Wait(ctx, held.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
}
