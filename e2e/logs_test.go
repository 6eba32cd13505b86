package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// injected is markup a task logs, as it may log what it was given: were
// the page to parse it, the image's handler or the script would set
// window.__injected.
const (
	injectedMessage = `<img src=x onerror="window.__injected = 1">`
	injectedValue   = `<script>window.__injected = 2</script>`
)

// goAhead lets the run of e2e.waiter that waits on it go on; one run at a
// time waits on it.
var goAhead = make(chan struct{})

var (
	// importTask logs through Logger(ctx) on each attempt, and fails its
	// first.
	importTask = localtasks.Define("e2e.import", func(ctx context.Context, a reportArgs) (int, error) {
		log := localtasks.Logger(ctx)
		if localtasks.Attempt(ctx) == 1 {
			log.Info("importing", "shop", a.Shop, slog.Group("file", "month", a.Month, "rows", 1200))
			log.Warn(injectedMessage, "note", injectedValue)
			return 0, errors.New("the upstream answered 503")
		}
		log.Info("importing again", "shop", a.Shop)
		log.Debug("not kept: below RunLogs.Level")
		return 1200, nil
	})
	// chattyTask logs n records.
	chattyTask = localtasks.Define("e2e.chatty", func(ctx context.Context, n int) (int, error) {
		for i := range n {
			localtasks.Logger(ctx).Info("line", "i", i)
		}
		return n, nil
	})
	// waiterTask logs, waits for goAhead, then logs again.
	waiterTask = localtasks.Define("e2e.waiter", func(ctx context.Context, _ struct{}) (string, error) {
		localtasks.Logger(ctx).Info("waiting for the go-ahead")
		select {
		case <-goAhead:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		localtasks.Logger(ctx).Info("went ahead")
		return "done", nil
	})
	// printTask prints a line to stdout: a process pool keeps it.
	printTask = localtasks.Define("e2e.print", func(ctx context.Context, shop string) (int, error) {
		fmt.Printf("printed for %s\n", shop)
		return 0, nil
	})
)

// logRow is a row of the detail's logs table, as readLogs reads it.
type logRow struct {
	Attempt string `json:"attempt"` // the attempt its body's header names
	Level   string `json:"level"`
	Stream  string `json:"stream"`
	Message string `json:"message"`
	Attrs   string `json:"attrs"`
	Time    bool   `json:"time"` // it shows a time with milliseconds
}

// readLogs reads the rows of the detail's logs table, in order.
const readLogs = `Array.from(document.querySelectorAll('#detail-logs tbody tr.log'), (tr) => ({
	attempt: tr.parentNode.querySelector('tr.attempt th').textContent,
	level: tr.querySelector('td.log-level').textContent,
	stream: tr.querySelector('td.log-stream').textContent,
	message: tr.querySelector('td.log-message').textContent,
	attrs: tr.querySelector('td.log-attrs').textContent.trim(),
	time: /\d\d:\d\d:\d\d\.\d{3}$/.test(tr.querySelector('td.log-time time').textContent),
}))`

// dumpLogs describes the detail's logs section, for failures.
const dumpLogs = `'#detail-logs: ' + JSON.stringify(` + readLogs + `) + '; #detail-no-logs: ' + document.querySelector('#detail-no-logs').textContent`

// TestDashboardRunLogs serves a dashboard of a thread pool and a process
// pool, and checks in Chromium that a run's detail lists what it logged
// through localtasks.Logger(ctx), by attempt, with each record's time,
// level, stream, message and attributes, as text: the markup a task logs
// is shown, not parsed; that a run past Config.RunLogs' bounds says how
// many records were dropped; that the logs of a running run grow as it
// logs; and that a process-pool run's detail shows the line it printed to
// stdout. It saves the screenshot of a detail docs/operations.md shows
// (under docs/ with LOCALTASKS_DOCS_SHOTS=1).
func TestDashboardRunLogs(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler) // the records are read from the runs
	threads, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: "threads", Logger: quiet, RunLogs: localtasks.RunLogs{MaxRecords: 5}}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, threads.Close(context.Background())) })
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: "procs", Logger: quiet}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, procs.Close(context.Background())) })

	finish := func(b localtasks.Backend, id string) string {
		t.Helper()
		_, err := b.Wait(ctx, id)
		require.NoError(t, err)
		return id
	}
	h1, err := importTask.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).Enqueue(ctx, threads, reportArgs{Shop: "acme", Month: 11})
	require.NoError(t, err)
	imported := finish(threads, h1.ID())
	h2, err := chattyTask.Enqueue(ctx, threads, 8)
	require.NoError(t, err)
	chatty := finish(threads, h2.ID())
	h3, err := printTask.Enqueue(ctx, procs, "acme")
	require.NoError(t, err)
	printed := finish(procs, h3.ID())

	dash, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{threads, procs}, Title: "logs"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the page's event stream

	bctx := newBrowser(t, chromium)
	console := watchConsole(t, bctx)
	do(t, bctx, "open the dashboard",
		chromedp.EmulateViewport(1100, 1160), // the detail, for the screenshot
		chromedp.Navigate(srv.URL+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)

	// The retried run: each attempt's records under its header, the
	// markup as text.
	openDetail(t, bctx, imported, "SUCCESSFUL")
	rows := poll[[]logRow](t, bctx, "the logs of both attempts", dumpLogs, `() => {
		const rows = `+readLogs+`;
		return rows.length === 3 && rows;
	}`)
	require.Equal(t, []logRow{
		{Attempt: "Attempt 1", Level: "INFO", Stream: "log", Message: "importing", Attrs: "shop=acme file.month=11 file.rows=1200", Time: true},
		{Attempt: "Attempt 1", Level: "WARN", Stream: "log", Message: injectedMessage, Attrs: "note=" + injectedValue, Time: true},
		{Attempt: "Attempt 2", Level: "INFO", Stream: "log", Message: "importing again", Attrs: "shop=acme", Time: true},
	}, rows)
	require.Equal(t, map[string]any{"images": 0.0, "scripts": 0.0, "injected": false}, evaluate[map[string]any](t, bctx, `({
		images: document.querySelectorAll('#detail img').length,
		scripts: document.querySelectorAll('#detail script').length,
		injected: window.__injected !== undefined,
	})`), "the logged markup is text, never parsed")
	require.True(t, evaluate[bool](t, bctx, `document.querySelector('#detail-logs-dropped').hidden`), "no record dropped")
	require.True(t, evaluate[bool](t, bctx, `document.querySelector('#detail-no-logs').hidden`))
	saveShot(t, bctx, "dashboard-detail.png", "#detail")

	// Past RunLogs.MaxRecords: the first 5 records, and the count of
	// those dropped.
	openDetail(t, bctx, chatty, "SUCCESSFUL")
	dropped := poll[string](t, bctx, "#detail-logs-dropped to show", dumpLogs, `() => {
		const p = document.querySelector('#detail-logs-dropped');
		return !p.hidden && p.textContent;
	}`)
	require.Contains(t, dropped, "3 records dropped: Config.RunLogs keeps 200 records or 64 KiB a run by default")
	require.Equal(t, 5, len(evaluate[[]logRow](t, bctx, readLogs)))

	// A process pool's run: the line it printed.
	openDetail(t, bctx, printed, "SUCCESSFUL")
	rows = poll[[]logRow](t, bctx, "the printed line", dumpLogs, `() => {
		const rows = `+readLogs+`;
		return rows.length === 1 && rows;
	}`)
	require.Equal(t, []logRow{{Attempt: "Attempt 1", Level: "INFO", Stream: "stdout", Message: "printed for acme", Time: true}}, rows)

	// A running run: its logs grow as it logs.
	waiter, err := waiterTask.Enqueue(ctx, threads, struct{}{})
	require.NoError(t, err)
	openDetail(t, bctx, waiter.ID(), "RUNNING")
	poll[bool](t, bctx, "the running run's first record", dumpLogs, `() => {
		const rows = `+readLogs+`;
		return rows.length === 1 && rows[0].message === 'waiting for the go-ahead';
	}`)
	goAhead <- struct{}{}
	poll[bool](t, bctx, "the record it logged after", dumpLogs, `() => {
		const rows = `+readLogs+`;
		return rows.length === 2 && rows[1].message === 'went ahead' &&
			document.querySelector('#detail-status').textContent === 'SUCCESSFUL';
	}`)

	console.check(t)
}
