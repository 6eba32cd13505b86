package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
	"github.com/localtasks/localtasks/localtaskstest"
)

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})

	_, err := dashboard.New(dashboard.Config{})
	require.ErrorContains(t, err, "Backends is empty")

	_, err = dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool, nil}})
	require.ErrorContains(t, err, "Backends[1] is nil")

	_, err = dashboard.New(dashboard.Config{Backends: []localtasks.Backend{named{pool, "io"}, named{pool, "io"}}})
	require.ErrorContains(t, err, `both labelled "io"`)

	// An unnamed backend is labelled by its position, which may collide
	// with a name.
	_, err = dashboard.New(dashboard.Config{Backends: []localtasks.Backend{named{pool, "backend-2"}, pool}})
	require.ErrorContains(t, err, `both labelled "backend-2"`)
}

func TestSnapshotLabelsAndTitle(t *testing.T) {
	t.Parallel()
	a := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2})
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3})
	h := newHandler(t, false, named{a, "io"}, b)

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, dashboard.TitleDefault, snap.Title)
	require.False(t, snap.Actions)
	require.False(t, snap.At.IsZero())
	require.Len(t, snap.Backends, 2)
	require.Equal(t, "io", snap.Backends[0].Name)
	require.Equal(t, "backend-2", snap.Backends[1].Name)
	require.Len(t, snap.Backends[0].Workers, 2)
	require.Len(t, snap.Backends[1].Workers, 3)

	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{a}, Title: "Shop tasks", Actions: true})
	require.NoError(t, err)
	snap = decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, "Shop tasks", snap.Title)
	require.True(t, snap.Actions)
}

// The page carries the hooks docs/api.md promises the browser test.
func TestPageHasTheContractsHooks(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	rec := serve(newHandler(t, false, pool), "GET", "/", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
	page := rec.Body.String()

	for _, hook := range []string{
		`<table id="tasks">`,
		`<select id="status-filter"`,
		`<input id="task-filter"`,
		`<section id="detail"`,
		`id="detail-status"`,
		`<progress id="detail-progress" max="1" value="0">`,
		`<ol id="detail-errors"`,
		`id="detail-args"`,
		`id="counters"`,
		`<svg id="throughput"`,
		`<table id="workers">`,
		`id="live" class="live" role="status" aria-live="polite"`,
		`<input id="key-filter"`,
		`<input id="id-search"`,
		`<button type="button" id="tasks-older"`,
		`<button type="button" id="tasks-newer"`,
		`<th scope="col">ID</th>`,
		`<th scope="col">Arguments</th>`,
		// Until the first snapshot, the table says it is loading, not
		// that no run matches.
		`<p id="tasks-empty" class="empty" role="status">Loading…</p>`,
		// Accessible markup.
		`<label for="key-filter">`,
		`<label for="id-search">`,
		`<label for="status-filter">`,
		`<label for="task-filter">`,
		`<label for="detail-progress">`,
		`<th scope="col">Task</th>`,
		`<caption>`,
		`<button type="button" id="detail-close"`,
		`<h2 id="detail-heading" tabindex="-1">`,
		// Relative links, so that the page works under any prefix.
		`<link rel="stylesheet" href="assets/style.css">`,
		`<script src="assets/app.js" defer></script>`,
	} {
		require.Contains(t, page, hook)
	}
	// Read-only: no action controls.
	require.NotContains(t, page, `id="detail-cancel"`)
	require.NotContains(t, page, `id="strike-form"`)
	require.Contains(t, page, `data-actions="false"`)

	// Every status has an option in the filter.
	for _, st := range []string{"SCHEDULED", "READY", "RUNNING", "SUCCESSFUL", "FAILED", "CANCELLED"} {
		require.Contains(t, page, `<option value="`+st+`">`)
	}
}

func TestPageWithActionsHasTheirControls(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	page := serve(newHandler(t, true, pool), "GET", "/", "").Body.String()
	for _, hook := range []string{`id="detail-cancel"`, `id="detail-retry"`, `id="detail-strike"`, `id="strike-form"`, `data-actions="true"`} {
		require.Contains(t, page, hook)
	}
}

func TestPageEscapesTheTitle(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Title: `<script>alert("x")</script>`})
	require.NoError(t, err)
	page := serve(h, "GET", "/", "").Body.String()
	require.NotContains(t, page, `<script>alert`)
	require.Contains(t, page, `<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</title>`)
}

// The page loads nothing from elsewhere, and its script never parses data
// as markup.
func TestAssetsAreSelfContained(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	page := serve(h, "GET", "/", "").Body.String()
	js := serve(h, "GET", "/assets/app.js", "").Body.String()
	css := serve(h, "GET", "/assets/style.css", "").Body.String()

	for name, body := range map[string]string{"page": page, "app.js": js, "style.css": css} {
		require.NotContains(t, body, "https://", name)
		require.NotContains(t, body, "@import", name)
		require.NotContains(t, body, "@font-face", name)
		require.NotRegexp(t, `(src|href)="//`, body, name)
		for _, m := range regexp.MustCompile(`http://[^"' ]*`).FindAllString(body, -1) {
			require.Equal(t, "http://www.w3.org/2000/svg", m, "%s refers to %s", name, m)
		}
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		require.NotContains(t, js, sink)
	}
	require.Contains(t, css, "system-ui")
	require.Contains(t, css, ":focus-visible")
}

func TestAssets(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)

	js := serve(h, "GET", "/assets/app.js", "")
	require.Equal(t, http.StatusOK, js.Code)
	require.Equal(t, "text/javascript; charset=utf-8", js.Header().Get("Content-Type"))
	require.Contains(t, js.Body.String(), `new EventSource("api/events")`)
	etag := js.Header().Get("ETag")
	require.NotEmpty(t, etag)

	again := serve(h, "GET", "/assets/app.js", "", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, again.Code)

	css := serve(h, "GET", "/assets/style.css", "")
	require.Equal(t, http.StatusOK, css.Code)
	require.Equal(t, "text/css; charset=utf-8", css.Header().Get("Content-Type"))

	// The page's template is not an asset.
	requireError(t, serve(h, "GET", "/assets/index.html", ""), http.StatusNotFound, dashboard.CodeNotFound)
	requireError(t, serve(h, "GET", "/assets/nope.js", ""), http.StatusNotFound, dashboard.CodeNotFound)
}

func TestUnknownPathIsJSON404(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	for _, path := range []string{"/nope", "/api", "/api/", "/api/snapshot/", "/api/results/a/b", "/assets/a/b"} {
		t.Run(path, func(t *testing.T) {
			requireError(t, serve(h, "GET", path, ""), http.StatusNotFound, dashboard.CodeNotFound)
		})
	}
}

func TestWrongMethodIsJSON405(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	id := uuid.NewString()
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/", "GET, HEAD"},
		{"POST", "/assets/app.js", "GET, HEAD"},
		{"POST", "/api/snapshot", "GET, HEAD"},
		{"DELETE", "/api/results/" + id, "GET, HEAD"},
		{"POST", "/api/events", "GET, HEAD"},
		{"POST", "/api/health", "GET, HEAD"},
		{"GET", "/api/results/" + id + "/cancel", "POST"},
		{"PUT", "/api/results/" + id + "/retry", "POST"},
		{"GET", "/api/strikes", "POST"},
		{"GET", "/api/strikes/restore", "POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := serve(h, tc.method, tc.path, "{}")
			requireError(t, rec, http.StatusMethodNotAllowed, dashboard.CodeMethodNotAllowed)
			require.Equal(t, tc.allow, rec.Header().Get("Allow"))
		})
	}
}

func TestMountedUnderAPrefix(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", newHandler(t, false, pool)))

	require.Equal(t, http.StatusOK, serve(mux, "GET", "/tasks/", "").Code)
	require.Equal(t, http.StatusOK, serve(mux, "GET", "/tasks/assets/app.js", "").Code)
	require.Equal(t, http.StatusOK, serve(mux, "GET", "/tasks/api/snapshot", "").Code)
}

// runs enqueues, on a pool of one worker, a run that reports progress and
// keeps the worker, one queued behind it and one scheduled; and on a pool
// of several, a run that succeeds, one that fails and one that panics.
type runs struct {
	one, many                   *localtasks.ThreadPoolBackend
	running, queued, scheduled  string
	succeeded, failed, panicked string
}

func enqueueRuns(t *testing.T) runs {
	t.Helper()
	ctx := testContext(t)
	r := runs{
		one:  newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1}),
		many: newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3}),
	}
	sub := r.one.Subscribe(0)
	defer sub.Close()
	enqueue := func(h interface{ ID() string }, err error) string {
		t.Helper()
		require.NoError(t, err)
		return h.ID()
	}
	r.running = enqueue(stepsTask.Enqueue(ctx, r.one, 10))
	waitEvent(t, sub, r.running, localtasks.EventProgress)
	r.queued = enqueue(echoTask.Using(localtasks.WithPriority(7)).Enqueue(ctx, r.one, shopArgs{Shop: "acme", N: 1}))
	r.scheduled = enqueue(echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, r.one, shopArgs{Shop: "later"}))

	r.succeeded = enqueue(echoTask.Enqueue(ctx, r.many, shopArgs{Shop: "done", N: 2}))
	r.failed = enqueue(failTask.Enqueue(ctx, r.many, "boom"))
	r.panicked = enqueue(panicTask.Enqueue(ctx, r.many, "oops"))
	for _, id := range []string{r.succeeded, r.failed, r.panicked} {
		wait(t, r.many, id)
	}
	return r
}

func ids(ts []dashboard.Task) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	r := enqueueRuns(t)
	h := newHandler(t, false, r.one, r.many)

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	one, many := snap.Backends[0], snap.Backends[1]
	require.Equal(t, "backend-1", one.Name)
	require.Equal(t, []string{r.running}, ids(one.Running))
	require.Equal(t, []string{r.queued}, ids(one.Queued))
	require.Equal(t, []string{r.scheduled}, ids(one.Scheduled))
	require.Empty(t, one.Finished)
	require.ElementsMatch(t, []string{r.succeeded, r.failed, r.panicked}, ids(many.Finished))

	running := one.Running[0]
	require.Equal(t, "dashboard_test.steps", running.Task)
	require.Equal(t, "RUNNING", running.Status)
	require.Equal(t, "backend-1", running.Backend)
	require.Equal(t, "default", running.Queue)
	require.Equal(t, 1, running.Attempts)
	require.Len(t, running.WorkerIDs, 1)
	require.NotNil(t, running.StartedAt)
	require.NotNil(t, running.LastAttemptedAt)
	require.Nil(t, running.FinishedAt)
	require.JSONEq(t, `10`, string(running.Args))
	require.NotNil(t, running.Progress)
	require.Equal(t, int64(3), running.Progress.Done)
	require.Equal(t, int64(10), running.Progress.Total)
	require.Equal(t, "page 3", running.Progress.Message)

	queued := one.Queued[0]
	require.Equal(t, "READY", queued.Status)
	require.Equal(t, 7, queued.Priority)
	require.JSONEq(t, `{"Shop": "acme", "N": 1}`, string(queued.Args))
	require.Nil(t, queued.Progress)
	require.NotNil(t, one.Scheduled[0].RunAfter)

	require.Len(t, one.Workers, 1)
	require.Equal(t, running.WorkerIDs[0], one.Workers[0].ID)
	require.Equal(t, []string{r.running}, one.Workers[0].Running)
	require.Zero(t, one.Workers[0].PID)
	require.Equal(t, dashboard.Counters{Enqueued: 3, Started: 1}, one.Counters)
	require.Equal(t, dashboard.Counters{Enqueued: 3, Started: 3, Succeeded: 1, Failed: 2}, many.Counters)
	require.Empty(t, one.Strikes)

	byID := map[string]dashboard.Task{}
	for _, task := range many.Finished {
		byID[task.ID] = task
	}
	succeeded := byID[r.succeeded]
	require.Equal(t, "SUCCESSFUL", succeeded.Status)
	require.JSONEq(t, `{"Shop": "done", "N": 2}`, string(succeeded.Value))
	require.NotNil(t, succeeded.FinishedAt)
	require.Empty(t, succeeded.Errors)

	failed := byID[r.failed]
	require.Equal(t, "FAILED", failed.Status)
	require.JSONEq(t, `null`, string(failed.Value))
	require.Len(t, failed.Errors, 1)
	require.Equal(t, dashboard.TaskError{Attempt: 1, At: failed.Errors[0].At, Type: "*errors.errorString", Message: "boom"}, failed.Errors[0])

	panicked := byID[r.panicked]
	require.Len(t, panicked.Errors, 1)
	require.Equal(t, "oops", panicked.Errors[0].Message)
	require.Contains(t, panicked.Errors[0].Stack, "goroutine")
}

// Unset times are null, empty lists are [], and progress is null until
// reported, as docs/api.md says.
func TestSnapshotNullsAndEmptyLists(t *testing.T) {
	t.Parallel()
	r := enqueueRuns(t)
	h := newHandler(t, false, r.one, r.many)

	m := raw(t, serve(h, "GET", "/api/snapshot", ""))
	one := m["backends"].([]any)[0].(map[string]any)
	require.Equal(t, []any{}, one["finished"])
	require.Equal(t, []any{}, one["strikes"])
	require.Equal(t, []any{}, one["throughput"])
	idle := m["backends"].([]any)[1].(map[string]any)["workers"].([]any)[0].(map[string]any)
	require.Equal(t, []any{}, idle["running"])
	require.Equal(t, 0.0, idle["pid"])
	require.Equal(t, 0.0, idle["memory_bytes"])

	queued := one["queued"].([]any)[0].(map[string]any)
	for _, k := range []string{"run_after", "started_at", "last_attempted_at", "finished_at", "progress", "value"} {
		require.Contains(t, queued, k)
		require.Nil(t, queued[k], k)
	}
	require.Equal(t, []any{}, queued["errors"])
	require.Equal(t, []any{}, queued["worker_ids"])
	require.Equal(t, "", queued["key"])
	require.Equal(t, "", queued["cancel_reason"])
	require.NotNil(t, queued["enqueued_at"])
}

func TestSnapshotFilters(t *testing.T) {
	t.Parallel()
	r := enqueueRuns(t)
	h := newHandler(t, false, r.one, r.many)

	all := func(snap dashboard.Snapshot) []string {
		var out []string
		for _, b := range snap.Backends {
			for _, list := range [][]dashboard.Task{b.Queued, b.Scheduled, b.Running, b.Finished} {
				out = append(out, ids(list)...)
			}
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{r.running, r.queued, r.scheduled, r.succeeded, r.failed, r.panicked}},
		{"?status=running", []string{r.running}},
		{"?status=Ready,scheduled", []string{r.queued, r.scheduled}},
		{"?status=READY&status=RUNNING", []string{r.running, r.queued}},
		{"?status=failed", []string{r.failed, r.panicked}},
		{"?status=successful,+cancelled,", []string{r.succeeded}},
		{"?task=dashboard_test.echo", []string{r.queued, r.scheduled, r.succeeded}},
		{"?task=dashboard_test.ech", nil},
		{"?task=dashboard_test.echo&status=SUCCESSFUL", []string{r.succeeded}},
		{"?status=", []string{r.running, r.queued, r.scheduled, r.succeeded, r.failed, r.panicked}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot"+tc.query, ""))
			require.ElementsMatch(t, tc.want, all(snap))
			// A filter selects runs, not backends, workers or counters.
			require.Len(t, snap.Backends, 2)
			require.Len(t, snap.Backends[0].Workers, 1)
			require.Equal(t, uint64(3), snap.Backends[1].Counters.Enqueued)
		})
	}
	for _, query := range []string{"?status=bogus", "?status=running,unknown", "?status=%zz", "?limit=0", "?limit=x", "?limit=10001",
		"?backend=nowhere", "?cursor=abc", "?backend=backend-1&cursor=abc"} {
		t.Run(query, func(t *testing.T) {
			requireError(t, serve(h, "GET", "/api/snapshot"+query, ""), http.StatusBadRequest, dashboard.CodeBadRequest)
		})
	}
}

// api/snapshot lists a page of each backend's runs, limit at most, with
// each backend's counts and the cursor of its next page; backend and
// cursor go through one backend's runs.
func TestSnapshotPages(t *testing.T) {
	t.Parallel()
	r := enqueueRuns(t)
	h := newHandler(t, false, r.one, r.many)

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, dashboard.StatusCounts{Running: 1, Ready: 1, Scheduled: 1}, snap.Backends[0].Counts)
	require.Equal(t, dashboard.StatusCounts{Successful: 1, Failed: 2}, snap.Backends[1].Counts)
	require.Empty(t, snap.Backends[0].NextCursor, "one page holds them all")

	var seen []string
	query := "?limit=1&backend=backend-1"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 4)
		snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot"+query, ""))
		require.Len(t, snap.Backends, 1, "the backend asked for")
		b := snap.Backends[0]
		require.Equal(t, "backend-1", b.Name)
		page := slices.Concat(ids(b.Running), ids(b.Queued), ids(b.Scheduled), ids(b.Finished))
		require.LessOrEqual(t, len(page), 1)
		require.Equal(t, dashboard.StatusCounts{Running: 1, Ready: 1, Scheduled: 1}, b.Counts, "the counts of all, on every page")
		seen = append(seen, page...)
		if b.NextCursor == "" {
			break
		}
		query = "?limit=1&backend=backend-1&cursor=" + url.QueryEscape(b.NextCursor)
	}
	require.Equal(t, []string{r.scheduled, r.queued, r.running}, seen, "scheduled, then queued, then running")

	snap = decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot?limit=2&status=failed&backend=backend-2,backend-1", ""))
	require.Equal(t, []string{"backend-2", "backend-1"}, []string{snap.Backends[0].Name, snap.Backends[1].Name})
	require.ElementsMatch(t, []string{r.failed, r.panicked}, ids(snap.Backends[0].Finished))
	require.NotEmpty(t, snap.Backends[0].NextCursor, "a full page")
	requireError(t, serve(h, "GET", "/api/snapshot?cursor="+url.QueryEscape(snap.Backends[0].NextCursor), ""),
		http.StatusBadRequest, dashboard.CodeBadRequest) // which backend's?
}

func TestResult(t *testing.T) {
	t.Parallel()
	r := enqueueRuns(t)
	h := newHandler(t, false, r.one, named{r.many, "cpu"})

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+r.failed, ""))
	require.Equal(t, r.failed, task.ID)
	require.Equal(t, "cpu", task.Backend)
	require.Equal(t, "FAILED", task.Status)
	require.JSONEq(t, `"boom"`, string(task.Args))

	task = decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+r.scheduled, ""))
	require.Equal(t, "backend-1", task.Backend)
	require.Equal(t, "SCHEDULED", task.Status)

	e := requireError(t, serve(h, "GET", "/api/results/"+uuid.NewString(), ""), http.StatusNotFound, dashboard.CodeNotFound)
	require.Contains(t, e.Message, "evicted")
	requireError(t, serve(h, "GET", "/api/results/not-an-id", ""), http.StatusNotFound, dashboard.CodeNotFound)
}

// A value encoding/json cannot render is a string of fmt.Sprint of it.
func TestValuesJSONCannotRender(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	hd, err := floatTask.Enqueue(ctx, pool, posInf())
	require.NoError(t, err)
	wait(t, pool, hd.ID())

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.JSONEq(t, `"+Inf"`, string(task.Args))
	require.JSONEq(t, `"+Inf"`, string(task.Value))
}

func posInf() float64 {
	var zero float64
	return 1 / zero
}

func TestThroughput(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	dashboard.SetNow(h, clock.Now)

	throughput := func() []dashboard.Point {
		t.Helper()
		return decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", "")).Backends[0].Throughput
	}
	require.Empty(t, throughput(), "one sample: no rate yet")

	for i := range 3 {
		hd, err := echoTask.Enqueue(ctx, pool, shopArgs{N: i})
		require.NoError(t, err)
		wait(t, pool, hd.ID())
	}
	clock.Advance(2 * time.Second)
	want := []dashboard.Point{{At: localtaskstest.Epoch.Add(2 * time.Second), PerSecond: 1.5}}
	require.Equal(t, want, throughput())

	// Less than a second later: no new sample.
	clock.Advance(500 * time.Millisecond)
	require.Equal(t, want, throughput())

	clock.Advance(500 * time.Millisecond)
	want = append(want, dashboard.Point{At: localtaskstest.Epoch.Add(3 * time.Second), PerSecond: 0})
	require.Equal(t, want, throughput())

	// Samples older than 10 minutes go.
	clock.Advance(10*time.Minute - 2*time.Second)
	got := throughput()
	require.Len(t, got, 2)
	require.Equal(t, want[1], got[0])
	require.Equal(t, localtaskstest.Epoch.Add(10*time.Minute+time.Second), got[1].At)
	clock.Advance(time.Hour)
	require.Empty(t, throughput())
}

func TestHeadRequests(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	for _, path := range []string{"/", "/assets/app.js", "/api/snapshot", "/api/events"} {
		rec := serve(h, "HEAD", path, "")
		require.Equal(t, http.StatusOK, rec.Code, path)
	}
	require.True(t, strings.HasPrefix(serve(h, "HEAD", "/api/events", "").Header().Get("Content-Type"), "text/event-stream"))
}

// broken is a backend whose GetResult fails in a way the API has no code
// for.
type broken struct{ named }

func (broken) GetResult(ctx context.Context, id string) (localtasks.TaskResult, error) {
	return localtasks.TaskResult{}, errors.New("disk on fire")
}

func TestUnexpectedBackendErrorIs500(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, broken{named{pool, "io"}})
	for _, rec := range []*httptest.ResponseRecorder{
		serve(h, "GET", "/api/results/"+uuid.NewString(), ""),
		serve(h, "POST", "/api/results/"+uuid.NewString()+"/cancel", ""),
	} {
		e := requireError(t, rec, http.StatusInternalServerError, dashboard.CodeInternal)
		require.Contains(t, e.Message, "disk on fire")
		require.Contains(t, e.Message, `backend "io"`)
	}
}
