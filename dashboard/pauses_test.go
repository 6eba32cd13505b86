package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// fakePauser is a pool whose pauses the test keeps: they hold nothing back,
// but they are listed as a pool lists its own, in Pauses and in its
// snapshots, with its queues. It checks a pause as a pool does. The tests of
// the routes use it to see what the dashboard asks of a Pauser and what it
// makes of the answers; TestPauseHoldsRunsOnAThreadPool uses a real pool.
// With queuesOnly, it pauses queues but not tasks, as River's backend:
// its Capabilities have PauseQueues, not Pause.
type fakePauser struct {
	localtasks.Controller
	name       string
	queues     []string
	limits     map[string]int // the queues' MaxWorkers
	queuesOnly bool

	mu     sync.Mutex
	pauses []localtasks.Pause
	closed bool
}

func newFakePauser(t *testing.T, name string, queues ...string) *fakePauser {
	return &fakePauser{Controller: newPool(t, localtasks.ThreadPoolConfig{}), name: name, queues: queues}
}

func (f *fakePauser) Name() string { return f.name }

func (f *fakePauser) Capabilities() localtasks.Capabilities {
	caps := f.Controller.Capabilities()
	caps.Pause = caps.Pause && !f.queuesOnly
	return caps
}

func (f *fakePauser) Pause(ctx context.Context, p localtasks.Pause) error {
	return f.change(p, true)
}

func (f *fakePauser) Resume(ctx context.Context, p localtasks.Pause) error {
	return f.change(p, false)
}

func (f *fakePauser) change(p localtasks.Pause, on bool) error {
	switch {
	case (p.Queue == "") == (p.Task == ""):
		return fmt.Errorf("fake: pause %+v: give a queue or a task: %w", p, localtasks.ErrInvalidTask)
	case p.Queue != "" && !slices.Contains(f.queues, p.Queue):
		return fmt.Errorf("fake: pause %v: it is not one of %s's queues %q: %w", p, f.name, f.queues, localtasks.ErrInvalidTask)
	case p.Task != "":
		if _, ok := localtasks.Lookup(p.Task); !ok {
			return fmt.Errorf("fake: pause %v: no task of that name is defined: %w", p, localtasks.ErrInvalidTask)
		}
		if f.queuesOnly {
			return fmt.Errorf("fake: pause %v: %s pauses queues, not tasks: %w", p, f.name, errors.ErrUnsupported)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("fake: pause %v: %s is closed: %w", p, f.name, localtasks.ErrClosed)
	}
	i := slices.Index(f.pauses, p)
	switch {
	case on && i < 0:
		f.pauses = append(f.pauses, p)
	case !on && i >= 0:
		f.pauses = slices.Delete(f.pauses, i, i+1)
	}
	return nil
}

// Pauses lists the pauses as a pool does: queues first, each sorted by
// name.
func (f *fakePauser) Pauses() []localtasks.Pause {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := slices.Clone(f.pauses)
	slices.SortFunc(ps, func(a, b localtasks.Pause) int {
		if (a.Task == "") != (b.Task == "") {
			if a.Task == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Queue+a.Task, b.Queue+b.Task)
	})
	return ps
}

func (f *fakePauser) Snapshot(ctx context.Context, opts localtasks.SnapshotOptions) (localtasks.Snapshot, error) {
	snap, err := f.Controller.Snapshot(ctx, opts)
	if err != nil {
		return snap, err
	}
	snap.Pauses = f.Pauses()
	snap.Queues = nil
	for _, q := range f.queues {
		snap.Queues = append(snap.Queues, localtasks.QueueInfo{Name: q, MaxWorkers: f.limits[q],
			Paused: slices.Contains(snap.Pauses, localtasks.Pause{Queue: q})})
	}
	return snap, nil
}

func (f *fakePauser) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	io := newFakePauser(t, "io", "default", "bulk")
	io.limits = map[string]int{"bulk": 2}
	cpu := newFakePauser(t, "cpu", "default")
	h := newHandler(t, true, io, cpu)
	post := func(path, body string) dashboard.Pauses {
		t.Helper()
		rec := serve(h, "POST", path, body)
		require.Equal(t, http.StatusOK, rec.Code, "POST %s %s: %s", path, body, rec.Body)
		return decode[dashboard.Pauses](t, rec)
	}

	// No backend: every backend that has the queue; cpu has no "bulk".
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "bulk"}}, post("/api/pauses", `{"queue": "bulk"}`).Pauses)
	require.Equal(t, []localtasks.Pause{{Queue: "bulk"}}, io.Pauses())
	require.Empty(t, cpu.Pauses())
	// Pausing what is paused changes nothing.
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "bulk"}}, post("/api/pauses", `{"backend": "io", "queue": "bulk"}`).Pauses)

	// A task, on one backend.
	want := []dashboard.Pause{{Backend: "io", Queue: "bulk"}, {Backend: "cpu", Task: "dashboard_test.echo"}}
	require.Equal(t, want, post("/api/pauses", `{"backend": "cpu", "task": "dashboard_test.echo"}`).Pauses)

	// The snapshot: each backend's queues, and its pauses.
	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.True(t, snap.Backends[0].Pausable)
	require.Equal(t, []dashboard.Queue{{Name: "default"}, {Name: "bulk", MaxWorkers: 2, Paused: true}}, snap.Backends[0].Queues)
	require.Equal(t, want[:1], snap.Backends[0].Pauses)
	require.Equal(t, []dashboard.Queue{{Name: "default"}}, snap.Backends[1].Queues)
	require.Equal(t, want[1:], snap.Backends[1].Pauses)

	// Resume from every backend: those without the pause do not matter.
	require.Equal(t, want[1:], post("/api/pauses/resume", `{"queue": "bulk"}`).Pauses)
	require.Equal(t, []dashboard.Pause{}, post("/api/pauses/resume", `{"task": "dashboard_test.echo"}`).Pauses)
	// Resuming what is not paused changes nothing.
	require.Equal(t, []dashboard.Pause{}, post("/api/pauses/resume", `{"backend": "io", "task": "dashboard_test.echo"}`).Pauses)
	require.Empty(t, io.Pauses())
	require.Empty(t, cpu.Pauses())

	// The snapshot's lists are [] when empty, never null.
	m := raw(t, serve(h, "GET", "/api/snapshot", ""))
	b0 := m["backends"].([]any)[0].(map[string]any)
	require.Equal(t, []any{}, b0["pauses"])
	require.Equal(t, true, b0["pausable"])
	require.Equal(t, true, b0["pausable_tasks"])
}

// A backend that pauses queues but not tasks (Capabilities.PauseQueues
// without Pause, as River's) is pausable, not pausable_tasks, in the
// snapshot; its queues pause, and a task's pause on it is a conflict that
// gives its reason.
func TestPauseQueuesOnly(t *testing.T) {
	t.Parallel()
	river := newFakePauser(t, "river", "default", "bulk")
	river.queuesOnly = true
	io := newFakePauser(t, "io", "default")
	h := newHandler(t, true, river, io)
	post := func(path, body string) []dashboard.Pause {
		t.Helper()
		rec := serve(h, "POST", path, body)
		require.Equal(t, http.StatusOK, rec.Code, "POST %s %s: %s", path, body, rec.Body)
		return decode[dashboard.Pauses](t, rec).Pauses
	}

	m := raw(t, serve(h, "GET", "/api/snapshot", ""))
	for i, want := range []map[string]any{{"pausable": true, "pausable_tasks": false}, {"pausable": true, "pausable_tasks": true}} {
		b := m["backends"].([]any)[i].(map[string]any)
		require.Equal(t, want, map[string]any{"pausable": b["pausable"], "pausable_tasks": b["pausable_tasks"]}, "backend %d", i)
	}

	require.Equal(t, []dashboard.Pause{{Backend: "river", Queue: "bulk"}}, post("/api/pauses", `{"backend": "river", "queue": "bulk"}`))
	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, []dashboard.Queue{{Name: "default"}, {Name: "bulk", Paused: true}}, snap.Backends[0].Queues)

	for _, path := range []string{"/api/pauses", "/api/pauses/resume"} {
		e := requireError(t, serve(h, "POST", path, `{"backend": "river", "task": "dashboard_test.echo"}`), http.StatusConflict, dashboard.CodeConflict)
		require.Contains(t, e.Message, `on backend "river"`)
		require.Contains(t, e.Message, "pauses queues, not tasks")
	}
	// On every backend, the task is paused where it can be.
	require.Equal(t, []dashboard.Pause{{Backend: "river", Queue: "bulk"}, {Backend: "io", Task: "dashboard_test.echo"}},
		post("/api/pauses", `{"task": "dashboard_test.echo"}`))
	require.Equal(t, []localtasks.Pause{{Queue: "bulk"}}, river.Pauses())
	require.Equal(t, []dashboard.Pause{{Backend: "river", Queue: "bulk"}}, post("/api/pauses/resume", `{"task": "dashboard_test.echo"}`))
	require.Equal(t, []dashboard.Pause{}, post("/api/pauses/resume", `{"queue": "bulk"}`))

	// With only the queue-only backend, a task's pause on every backend
	// is its refusal.
	h = newHandler(t, true, river)
	e := requireError(t, serve(h, "POST", "/api/pauses", `{"task": "dashboard_test.echo"}`), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "pauses queues, not tasks")
	require.Empty(t, river.Pauses())
}

func TestPauseBadRequests(t *testing.T) {
	t.Parallel()
	io := newFakePauser(t, "io", "default", "bulk")
	h := newHandler(t, true, io)
	for _, tc := range []struct{ name, body, says string }{
		{"empty", ``, "malformed"},
		{"malformed", `{"queue":`, "malformed"},
		{"not an object", `["bulk"]`, "malformed"},
		{"unknown field", `{"queue": "bulk", "reason": "x"}`, "unknown field"},
		{"two objects", `{"queue": "bulk"} {}`, "more after"},
		{"neither", `{"backend": "io"}`, "neither a queue nor a task"},
		{"both", `{"queue": "bulk", "task": "dashboard_test.echo"}`, "a queue and a task"},
		{"unknown queue", `{"queue": "nope"}`, `not one of io's queues`},
		{"undefined task", `{"task": "dashboard_test.nope"}`, "no task of that name"},
		{"unknown backend", `{"backend": "cpu", "queue": "bulk"}`, `no backend "cpu"`},
		{"queue is not a string", `{"queue": 1}`, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/pauses", "/api/pauses/resume"} {
				e := requireError(t, serve(h, "POST", path, tc.body), http.StatusBadRequest, dashboard.CodeBadRequest)
				require.Contains(t, e.Message, tc.says)
			}
		})
	}
	require.Empty(t, io.Pauses())
}

// A backend that cannot pause (no Pauser, or one whose Capabilities say
// no, as an ImmediateBackend's) is not pausable in the snapshot, and a
// pause on it is a conflict that says why; so is a pause on a closed one.
func TestPauseConflicts(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	io := newFakePauser(t, "io", "default")
	bare := struct{ localtasks.Backend }{named{newPool(t, localtasks.ThreadPoolConfig{}), "bare"}}
	now, err := localtasks.NewImmediate(localtasks.Config{Name: "now"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, now.Close(context.Background())) })
	closed := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "closed"}})
	require.NoError(t, closed.Close(ctx))
	h := newHandler(t, true, io, bare, now, closed)

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, []bool{true, false, false, true}, []bool{snap.Backends[0].Pausable, snap.Backends[1].Pausable,
		snap.Backends[2].Pausable, snap.Backends[3].Pausable})
	require.Equal(t, []bool{true, false, false, true}, []bool{snap.Backends[0].PausableTasks, snap.Backends[1].PausableTasks,
		snap.Backends[2].PausableTasks, snap.Backends[3].PausableTasks})
	require.Empty(t, snap.Backends[1].Queues)

	for _, label := range []string{"bare", "now"} {
		e := requireError(t, serve(h, "POST", "/api/pauses", `{"backend": "`+label+`", "queue": "default"}`), http.StatusConflict, dashboard.CodeConflict)
		require.Contains(t, e.Message, "cannot pause")
		require.Contains(t, e.Message, "Pauser")
	}
	requireError(t, serve(h, "POST", "/api/pauses", `{"backend": "closed", "queue": "default"}`), http.StatusConflict, dashboard.CodeConflict)

	// Every backend means every one that can pause: io takes it.
	rec := serve(h, "POST", "/api/pauses", `{"queue": "default"}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "default"}}, decode[dashboard.Pauses](t, rec).Pauses)

	// Once io is closed too, none takes it: the first refusal is the answer.
	io.close()
	e := requireError(t, serve(h, "POST", "/api/pauses/resume", `{"queue": "default"}`), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, `resume on backend "io"`)
	require.Contains(t, e.Message, "closed")

	// With no backend that can pause, a pause for every backend says so.
	h = newHandler(t, true, bare, now)
	e = requireError(t, serve(h, "POST", "/api/pauses", `{"queue": "default"}`), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "no backend here can pause")
}

// The pause routes are actions like the others: refused when the dashboard
// is read-only, for another Host, from another site, and without JSON.
func TestPauseIsAnAction(t *testing.T) {
	t.Parallel()
	io := newFakePauser(t, "io", "default")
	body := `{"queue": "default"}`
	for _, path := range []string{"/api/pauses", "/api/pauses/resume"} {
		requireError(t, serve(newHandler(t, false, io), "POST", path, body), http.StatusForbidden, dashboard.CodeActionsDisabled)
		h := newHandler(t, true, io)
		requireError(t, serve(h, "POST", path, body, "Host", "rebind.attacker.example"), http.StatusForbidden, dashboard.CodeHostNotAllowed)
		requireError(t, serve(h, "POST", path, body, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, dashboard.CodeCrossOrigin)
		requireError(t, serve(h, "POST", path, body, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, dashboard.CodeUnsupportedMediaType)
		requireError(t, serve(h, "GET", path, ""), http.StatusMethodNotAllowed, dashboard.CodeMethodNotAllowed)
	}
	require.Empty(t, io.Pauses(), "no refused action changed anything")
}

// TestPauseHoldsRunsOnAThreadPool pauses a real pool's queue through the
// API: a run of it stays READY while a run of another queue, enqueued
// after it, starts and finishes on the pool's only worker; the snapshot
// shows the queue paused; once resumed, the held run finishes.
func TestPauseHoldsRunsOnAThreadPool(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Queues: []string{"default", "bulk"}, QueueWorkers: map[string]int{"default": 1}}})
	h := newHandler(t, true, named{pool, "io"})
	post := func(path, body string) *httptest.ResponseRecorder {
		t.Helper()
		rec := serve(h, "POST", path, body)
		require.Equal(t, http.StatusOK, rec.Code, "POST %s %s: %s", path, body, rec.Body)
		return rec
	}

	rec := post("/api/pauses", `{"queue": "bulk"}`)
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "bulk"}}, decode[dashboard.Pauses](t, rec).Pauses)
	held, err := echoTask.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, pool, shopArgs{Shop: "held"})
	require.NoError(t, err)
	passed, err := echoTask.Enqueue(ctx, pool, shopArgs{Shop: "passed"})
	require.NoError(t, err)
	wait(t, pool, passed.ID())
	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+held.ID(), ""))
	require.Equal(t, "READY", task.Status, "the paused queue's run waits")

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	b := snap.Backends[0]
	require.True(t, b.Pausable)
	require.Equal(t, []dashboard.Queue{{Name: "default", MaxWorkers: 1}, {Name: "bulk", Ready: 1, Paused: true}}, b.Queues, "the held run counts in its queue's depth")
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "bulk"}}, b.Pauses)

	// A task's pause shows too, after the queues'.
	rec = post("/api/pauses", `{"task": "dashboard_test.fail"}`)
	require.Equal(t, []dashboard.Pause{{Backend: "io", Queue: "bulk"}, {Backend: "io", Task: "dashboard_test.fail"}},
		decode[dashboard.Pauses](t, rec).Pauses)
	post("/api/pauses/resume", `{"task": "dashboard_test.fail"}`)

	rec = post("/api/pauses/resume", `{"backend": "io", "queue": "bulk"}`)
	require.Equal(t, []dashboard.Pause{}, decode[dashboard.Pauses](t, rec).Pauses)
	require.Equal(t, localtasks.StatusSuccessful, wait(t, pool, held.ID()).Status)
	snap = decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, []dashboard.Queue{{Name: "default", MaxWorkers: 1}, {Name: "bulk"}}, snap.Backends[0].Queues)
	require.Empty(t, snap.Backends[0].Pauses)
}

// The page has the queues panel and the paused list docs/api.md promises,
// and the pause controls only with actions on.
func TestPageHasTheQueuesPanel(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	hooks := []string{
		`<table id="queues">`,
		`<th scope="col">Queue</th>`,
		`<p id="queues-empty" class="empty">`,
		`<ul id="pauses" class="pause-list" aria-labelledby="pauses-heading">`,
		`<p id="pauses-empty" class="empty">`,
	}
	page := serve(newHandler(t, false, pool), "GET", "/", "").Body.String()
	for _, hook := range hooks {
		require.Contains(t, page, hook)
	}
	require.NotContains(t, page, `id="detail-pause"`)
	require.NotContains(t, page, `<th scope="col">Action</th>`)

	page = serve(newHandler(t, true, pool), "GET", "/", "").Body.String()
	for _, hook := range append(hooks, `<button type="button" id="detail-pause" hidden>`, `<th scope="col">Action</th>`) {
		require.Contains(t, page, hook)
	}
}

// A run's deadline (WithDeadline) is in the API's task, and null for a run
// without one.
func TestTaskDeadline(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	h := newHandler(t, false, pool)
	deadline := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	with, err := echoTask.Using(localtasks.WithDelay(time.Minute), localtasks.WithDeadline(deadline)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	without, err := echoTask.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)

	got := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+with.ID(), ""))
	require.NotNil(t, got.Deadline)
	require.True(t, deadline.Equal(*got.Deadline), "deadline %v, want %v", *got.Deadline, deadline)
	got = decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+without.ID(), ""))
	require.Nil(t, got.Deadline)
}
