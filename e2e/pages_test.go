package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// reportArgs is the argument of the reports the paging test enqueues.
type reportArgs struct {
	Shop  string
	Month int
}

var (
	reportTask = localtasks.Define("e2e.report", func(ctx context.Context, a reportArgs) (string, error) {
		return fmt.Sprintf("report of %s for month %d", a.Shop, a.Month), nil
	})
	nightlyTask = localtasks.Define("e2e.nightly", func(ctx context.Context, a reportArgs) (string, error) {
		return "done", nil
	})
)

// reports is how many reports the paging test runs: more than a page of
// the dashboard (100 runs a backend).
const reports = 150

// TestDashboardPagesSearchAndDeepLinks serves a dashboard of a thread pool
// holding 150 finished runs and one scheduled two days ahead, and checks
// in Chromium that the table says "Loading…", not that no run matches,
// while the counters show and the first snapshot is held back; that it
// shows each run's short ID (the whole one in its title) and its
// argument; that Older and Newer go through every run, a page at a time;
// that the key and task filters and the ID search find runs; that a
// #task= link, whole or by the first 8 digits, shows the
// detail of a run that is not on the first page, scrolled into view; and
// that a time on another day than today shows its date. It saves the
// screenshot of the runs table docs/operations.md shows (under docs/ with
// LOCALTASKS_DOCS_SHOTS=1).
func TestDashboardPagesSearchAndDeepLinks(t *testing.T) {
	chromium := findChromium(t)
	base, ids, nightly, release := serveReports(t)

	ctx := newBrowser(t, chromium)
	console := watchConsole(t, ctx)
	do(t, ctx, "open the dashboard",
		chromedp.EmulateViewport(1100, 620),
		chromedp.Navigate(base+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)

	// The snapshots are held back: the counters come first, from the event
	// stream, and the table says it is loading, not that no run matches.
	poll[bool](t, ctx, "the counters to show 151 enqueued", dumpTable, `() =>
		document.querySelector('#counters tbody td')?.textContent === '151'`)
	require.Equal(t, "Loading…", evaluate[string](t, ctx,
		`(() => { const e = document.querySelector('#tasks-empty'); return e.hidden ? 'hidden' : e.textContent; })()`))
	release()

	// The first page: the scheduled run, then the 99 latest finishes,
	// newest first.
	first := append([]string{nightly}, reversed(ids[reports-99:])...)
	waitTable(t, ctx, "the first page", first)
	cells := evaluate[map[string]string](t, ctx, `(() => {
		const tr = document.querySelector('#tasks tr[data-id="`+ids[reports-1]+`"]');
		return {id: tr.querySelector('td.id code').textContent, title: tr.querySelector('td.id code').title,
			args: tr.querySelector('td.args').textContent, copy: tr.querySelector('td.id button.copy').textContent};
	})()`)
	require.Equal(t, map[string]string{"id": ids[reports-1][:8], "title": ids[reports-1],
		"args": fmt.Sprintf(`{"Shop":"shop-%03d","Month":%d}`, reports-1, month(reports-1)), "copy": "Copy"}, cells)
	require.Equal(t, "", evaluate[string](t, ctx, `document.querySelector('#tasks-empty').hidden ? '' : 'shown'`),
		"no Loading… nor empty message once runs show")
	saveShot(t, ctx, "dashboard-runs.png", "#tasks-heading")

	// Older: the rest of the finishes, and no further page.
	do(t, ctx, "click Older", chromedp.Click(chromedp.CSS("#tasks-older")))
	waitTable(t, ctx, "the second page: the older finishes, newest first", reversed(ids[:reports-99]))
	require.Equal(t, "Page 2, the last", evaluate[string](t, ctx, `document.querySelector('#tasks-page').textContent`))
	require.True(t, evaluate[bool](t, ctx, `document.querySelector('#tasks-older').hidden`), "no page after the last")
	do(t, ctx, "click Newer", chromedp.Click(chromedp.CSS("#tasks-newer")))
	waitTable(t, ctx, "Newer: the first page again", first)

	// The key filter, then the task filter.
	setInput(t, ctx, "#key-filter", "shop-007")
	waitTable(t, ctx, "the run with key shop-007", []string{ids[7]})
	setInput(t, ctx, "#key-filter", "")
	setInput(t, ctx, "#task-filter", nightlyTask.Name())
	waitTable(t, ctx, "the run of e2e.nightly", []string{nightly})
	setInput(t, ctx, "#task-filter", "")
	waitTable(t, ctx, "the first page, with no filter", first)

	// A deep link by the first 8 digits to the oldest run, which is not on
	// the first page: its detail shows, in view, with the whole ID in the
	// URL.
	oldest := ids[0]
	do(t, ctx, "open a #task= link by a prefix",
		chromedp.Navigate(base+"/tasks/#task="+oldest[:8]),
		chromedp.WaitVisible(chromedp.CSS("#detail")),
	)
	waitDetail(t, ctx, oldest)
	require.Equal(t, "#task="+oldest, evaluate[string](t, ctx, `location.hash`))
	require.True(t, evaluate[bool](t, ctx, `(() => {
		const r = document.querySelector('#detail-heading').getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight;
	})()`), "the detail's heading is in view")
	require.Contains(t, evaluate[string](t, ctx, `document.querySelector('#detail-args').textContent`), `"Shop": "shop-000"`)

	// The ID search, by a prefix in upper case.
	setInput(t, ctx, "#id-search", strings.ToUpper(ids[42][:8]))
	submitIDSearch(t, ctx)
	waitDetail(t, ctx, ids[42])
	// Too short: the page says what to give.
	setInput(t, ctx, "#id-search", ids[42][:5])
	submitIDSearch(t, ctx)
	poll[bool](t, ctx, "#message to say the ID is too short", `document.querySelector('#message').textContent`, `() =>
		document.querySelector('#message').textContent.includes('too short: give at least 8 hex digits')`)

	// A time on another day shows the date; one of today, the time alone.
	do(t, ctx, "open the scheduled run", chromedp.Navigate(base+"/tasks/#task="+nightly))
	waitDetail(t, ctx, nightly)
	times := evaluate[map[string]bool](t, ctx, `(() => {
		const shows = (sel) => {
			const el = document.querySelector(sel + ' time'), d = new Date(el.dateTime);
			return el.textContent === d.toLocaleDateString() + ' ' + d.toLocaleTimeString() ? 'date' :
				el.textContent === d.toLocaleTimeString() ? 'time' : 'other';
		};
		return {runAfterDated: shows('#detail-run-after') === 'date', enqueuedTimeOnly: shows('#detail-enqueued') === 'time'};
	})()`)
	require.Equal(t, map[string]bool{"runAfterDated": true, "enqueuedTimeOnly": true}, times,
		"run after, two days ahead, shows its date; enqueued, today, the time alone")

	console.check(t)
}

// serveReports serves a dashboard of a thread pool that ran 150 reports,
// each keyed by its shop, and holds a run of e2e.nightly scheduled two days
// ahead (another day, whatever the time). It returns the base URL (the
// dashboard is under /tasks/), the reports' IDs in the order they
// finished, the scheduled run's ID, and a function that lets the
// dashboard answer GET api/snapshot, which waits for it until then.
func serveReports(t *testing.T) (string, []string, string, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1}) // one worker: they finish in order
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	var ids []string
	for i := range reports {
		shop := fmt.Sprintf("shop-%03d", i)
		h, err := reportTask.Using(localtasks.WithKey(shop)).Enqueue(ctx, pool, reportArgs{Shop: shop, Month: month(i)})
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	for _, id := range ids {
		_, err := pool.Wait(ctx, id)
		require.NoError(t, err)
	}
	later, err := nightlyTask.Using(localtasks.WithDelay(48*time.Hour), localtasks.WithKey("nightly")).Enqueue(ctx, pool, reportArgs{Shop: "all"})
	require.NoError(t, err)

	dash, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Title: "reports"})
	require.NoError(t, err)
	held := make(chan struct{})
	release := sync.OnceFunc(func() { close(held) })
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	mux.HandleFunc("/tasks/api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
		http.StripPrefix("/tasks", dash).ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the page's event stream
	t.Cleanup(release)
	return srv.URL, ids, later.ID(), release
}

func month(i int) int { return i%12 + 1 }

// waitTable waits until the task table lists the runs of want, in that
// order, once a snapshot has loaded.
func waitTable(t *testing.T, ctx context.Context, what string, want []string) {
	t.Helper()
	poll[bool](t, ctx, what, dumpTable, `(want) => {
		if (document.querySelector('#tasks-empty').textContent === 'Loading…') return false;
		const ids = Array.from(document.querySelectorAll('#tasks tr[data-id]'), (tr) => tr.dataset.id);
		return ids.length === want.length && ids.every((id, i) => id === want[i]);
	}`, want)
}

// waitDetail waits until the detail view shows run id.
func waitDetail(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	poll[bool](t, ctx, "#detail-id to be "+id, dumpDetail, `(id) => {
		const d = document.querySelector('#detail-id');
		return !document.querySelector('#detail').hidden && d.textContent === id;
	}`, id)
}

// setInput sets an input's value as typing does: with an input event.
func setInput(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	v, _ := json.Marshal(value)
	evaluate[bool](t, ctx, `(() => {
		const i = document.querySelector('`+sel+`');
		i.value = `+string(v)+`;
		i.dispatchEvent(new Event('input', {bubbles: true}));
		return true;
	})()`)
}

// submitIDSearch submits the ID search as Enter in it does.
func submitIDSearch(t *testing.T, ctx context.Context) {
	t.Helper()
	evaluate[bool](t, ctx, `(document.querySelector('#id-search-form').requestSubmit(), true)`)
}

// saveShot saves a screenshot of the viewport, scrolled to put sel at its
// top ("" for where it is), under docs/ when LOCALTASKS_DOCS_SHOTS is set
// (to refresh the ones docs/operations.md shows), else beside
// screenshotPath's.
func saveShot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	if sel != "" {
		evaluate[bool](t, ctx, `(document.querySelector('`+sel+`').scrollIntoView({block: 'start'}), true)`)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err, "taking the screenshot %s", name)
	dir := filepath.Dir(screenshotPath(t))
	if os.Getenv("LOCALTASKS_DOCS_SHOTS") != "" {
		dir = filepath.Join("..", "docs")
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot: %s", path)
}

func reversed(s []string) []string {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}
