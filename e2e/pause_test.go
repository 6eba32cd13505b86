package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// TestDashboardPausesAQueue serves a dashboard, with actions on, of a
// thread pool with one worker and the queues "default" and "bulk", and
// checks in Chromium that the queues panel pauses "bulk": a run enqueued
// on it stays READY while a run of "default", enqueued after it, finishes;
// that the run's detail pauses its task, and the paused list resumes it;
// and that once the panel resumes "bulk", the run finishes. It saves the
// screenshot of the panel docs/operations.md shows (under docs/ with
// LOCALTASKS_DOCS_SHOTS=1).
func TestDashboardPausesAQueue(t *testing.T) {
	chromium := findChromium(t)
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, // the worker passes over the held run
		Config: localtasks.Config{Name: "io", Queues: []string{"default", "bulk"}, QueueWorkers: map[string]int{"default": 1}}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	dash, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Actions: true, Title: "queues"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the page's event stream

	bctx := newBrowser(t, chromium)
	console := watchConsole(t, bctx)
	do(t, bctx, "open the dashboard",
		chromedp.Navigate(srv.URL+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#queues")),
	)
	// The panel: both queues, active, "default" bound to one worker.
	queues := poll[map[string]queueRow](t, bctx, "the queues panel to list both queues", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return Object.keys(rows).length === 2 && rows;
	}`)
	require.Equal(t, map[string]queueRow{
		"default": {Backend: "io", Ready: "0", Running: "0", MaxWorkers: "1", State: "active", Button: "Pause"},
		"bulk":    {Backend: "io", Ready: "0", Running: "0", MaxWorkers: "all", State: "active", Button: "Pause"},
	}, queues)
	require.Equal(t, "Nothing is paused.", evaluate[string](t, bctx, `document.querySelector('#pauses-empty').hidden ? 'hidden' : document.querySelector('#pauses-empty').textContent`))

	// Pause "bulk" from the panel.
	do(t, bctx, "click Pause on bulk", chromedp.Click(chromedp.CSS(`#queues tr[data-queue="bulk"] button.pause`)))
	poll[bool](t, bctx, "bulk to show paused, and in the paused list", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return rows.bulk?.state === 'paused' && rows.bulk?.button === 'Resume' &&
			!!document.querySelector('#pauses li[data-queue="bulk"] button.resume') &&
			document.querySelector('#pauses-empty').hidden;
	}`)
	require.Equal(t, []localtasks.Pause{{Queue: "bulk"}}, pool.Pauses())

	// A run of bulk waits; one of default, enqueued after it, runs.
	held, err := reportTask.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, pool, reportArgs{Shop: "held"})
	require.NoError(t, err)
	passed, err := reportTask.Enqueue(ctx, pool, reportArgs{Shop: "passed"})
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	_, err = pool.Wait(waitCtx, passed.ID())
	require.NoError(t, err)
	st, err := held.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st, "the run of the paused queue waits")
	waitStatuses(t, bctx, map[string]string{held.ID(): "READY", passed.ID(): "SUCCESSFUL"})
	poll[bool](t, bctx, "bulk's depth to count the held run", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return rows.bulk?.ready === '1' && rows.default?.ready === '0';
	}`)

	// The held run's detail pauses its task; the paused list resumes it.
	openDetail(t, bctx, held.ID(), "READY")
	poll[bool](t, bctx, "#detail-pause to offer to pause the task", dumpDetail, `() => {
		const b = document.querySelector('#detail-pause');
		return !b.hidden && b.textContent === 'Pause task e2e.report';
	}`)
	do(t, bctx, "click Pause task", chromedp.Click(chromedp.CSS("#detail-pause")))
	poll[bool](t, bctx, "the task in the paused list, and #detail-pause to offer to resume it", dumpQueues, `() =>
		!!document.querySelector('#pauses li[data-task="e2e.report"] button.resume') &&
		document.querySelector('#detail-pause').textContent === 'Resume task e2e.report'`)
	require.Equal(t, []localtasks.Pause{{Queue: "bulk"}, {Task: "e2e.report"}}, pool.Pauses())
	saveShot(t, bctx, "dashboard-queues.png", "#queues-heading")
	do(t, bctx, "click Resume on the task in the paused list", chromedp.Click(chromedp.CSS(`#pauses li[data-task="e2e.report"] button.resume`)))
	poll[bool](t, bctx, "the task to leave the paused list", dumpQueues, `() =>
		!document.querySelector('#pauses li[data-task]') &&
		document.querySelector('#detail-pause').textContent === 'Pause task e2e.report'`)
	require.Equal(t, []localtasks.Pause{{Queue: "bulk"}}, pool.Pauses())
	st, err = held.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st, "its queue still holds it")

	// Resume bulk from the panel: the run finishes.
	do(t, bctx, "click Resume on bulk", chromedp.Click(chromedp.CSS(`#queues tr[data-queue="bulk"] button.resume`)))
	res, err := pool.Wait(waitCtx, held.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Empty(t, pool.Pauses())
	poll[bool](t, bctx, "bulk to show active, and nothing paused", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return rows.bulk?.state === 'active' && !document.querySelector('#pauses li') &&
			!document.querySelector('#pauses-empty').hidden;
	}`)
	waitStatuses(t, bctx, map[string]string{held.ID(): "SUCCESSFUL"})

	console.check(t)
}

// queueRow is a row of the queues panel, as readQueues reads it.
type queueRow struct {
	Backend    string `json:"backend"`
	Ready      string `json:"ready"`
	Running    string `json:"running"`
	MaxWorkers string `json:"max_workers"`
	State      string `json:"state"`
	Button     string `json:"button"` // the action's button: Pause, Resume, or "" for none
}

// readQueues reads the queues panel's rows, by queue name.
const readQueues = `Object.fromEntries(Array.from(document.querySelectorAll('#queues tr[data-queue]'), (tr) => {
	const text = (sel) => (tr.querySelector(sel)?.textContent ?? '').trim();
	return [tr.dataset.queue, {backend: tr.dataset.backend, ready: text('td.ready'), running: text('td.running'), max_workers: text('td.max-workers'),
		state: text('td.state'), button: text('button')}];
}))`

// dumpQueues describes the queues panel and the paused list, for failures.
const dumpQueues = `JSON.stringify(` + readQueues + `) + '; #pauses: ' + document.querySelector('#pauses').outerHTML +
	'; #message: ' + document.querySelector('#message').textContent`

// waitStatuses waits until the task table shows each run of want with its
// status.
func waitStatuses(t *testing.T, ctx context.Context, want map[string]string) {
	t.Helper()
	poll[bool](t, ctx, "the runs' rows to show their statuses", dumpTable, `(want) => {
		for (const [id, status] of Object.entries(want)) {
			const cell = document.querySelector('#tasks tr[data-id="' + CSS.escape(id) + '"] td.status');
			if (!cell || cell.textContent.trim() !== status) return false;
		}
		return true;
	}`, want)
}
