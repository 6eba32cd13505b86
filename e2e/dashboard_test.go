package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/testkit"
)

func TestMain(m *testing.M) {
	localtasks.Init() // the test binary is also the process pool's worker (logs_test.go)
	if os.Getenv(traceWorkerEnv) != "" {
		os.Exit(traceWorkerMain()) // the River worker process of TestTraceAcrossRiverProcesses
	}
	goleak.VerifyTestMain(m)
}

// failReason is what the failing task is asked to fail with; the
// dashboard must show it.
const failReason = "e2e: the upstream answered 503 Service Unavailable"

// fetchSteps is how many progress reports the I/O task makes, 200 ms apart.
const fetchSteps = 5

// waitTimeout bounds each wait in the browser and for the web app.
const waitTimeout = 60 * time.Second

// TestDashboard runs the example web app, enqueues an I/O task with
// progress, a CPU task and a failing task through its API, and checks in
// Chromium that the dashboard shows them: the final statuses in the task
// table, the I/O task's progress in its detail view, and the failure's
// message. It saves a screenshot of the page, then stops the app with
// SIGTERM and requires a clean exit.
func TestDashboard(t *testing.T) {
	chromium := findChromium(t)
	app := startWebapp(t)

	ioID := app.enqueue(t, "/io?url=https://example.com/e2e&steps="+fmt.Sprint(fetchSteps)+"&step_ms=200")
	cpuID := app.enqueue(t, "/cpu?below=20000000")
	failID := app.enqueue(t, "/fail?reason="+url.QueryEscape(failReason))

	ctx := newBrowser(t, chromium)
	console := watchConsole(t, ctx)
	do(t, ctx, "open the dashboard",
		chromedp.Navigate(app.base+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)

	// The table: a row per run, with its final status.
	want := map[string]string{ioID: "SUCCESSFUL", cpuID: "SUCCESSFUL", failID: "FAILED"}
	poll[bool](t, ctx, "the rows of the three runs to show their final statuses", dumpTable, `(want) => {
		for (const [id, status] of Object.entries(want)) {
			const cell = document.querySelector('#tasks tr[data-id="' + CSS.escape(id) + '"] td.status');
			if (!cell || cell.textContent.trim() !== status) return false;
		}
		return true;
	}`, want)
	// Under the table, each backend's runs in all, from the counts every
	// snapshot brings.
	poll[bool](t, ctx, "#tasks-more-text to count each pool's runs", dumpTable, `() => {
		const text = document.querySelector('#tasks-more-text')?.textContent ?? '';
		return text.includes('io: 0 ready, 0 scheduled, 0 running, 2 finished kept') &&
			text.includes('cpu: 0 ready, 0 scheduled, 0 running, 1 finished kept');
	}`)
	rows := evaluate[map[string]row](t, ctx, readRows)
	require.Equal(t, "webapp.fetch", rows[ioID].Task)
	require.Equal(t, "webapp.primes", rows[cpuID].Task)
	require.Equal(t, "webapp.fail", rows[failID].Task)
	require.NotNil(t, rows[ioID].Progress, "the I/O task reported progress: its row must have a <progress>")
	require.Equal(t, meter{Value: fetchSteps, Max: fetchSteps}, *rows[ioID].Progress)

	// The detail view of the I/O task, opened by the URL's fragment.
	openDetail(t, ctx, ioID, "SUCCESSFUL")
	progress := poll[meter](t, ctx, "#detail-progress to be filled in", dumpDetail, `() => {
		const p = document.querySelector('#detail-progress');
		return p && p.max > 0 && {value: p.value, max: p.max};
	}`)
	require.Equal(t, meter{Value: fetchSteps, Max: fetchSteps}, progress, "#detail-progress of the finished I/O task")

	// The detail view of the failed task: its error's message.
	openDetail(t, ctx, failID, "FAILED")
	message := poll[string](t, ctx, "#detail-errors .error-message to be filled in", dumpDetail, `() => {
		const m = document.querySelector('#detail-errors .error-message');
		return m && m.textContent.trim();
	}`)
	require.Contains(t, message, failReason)

	// The API agrees with the page.
	require.Equal(t, http.StatusOK, app.resultCode(t, ioID))
	require.Equal(t, http.StatusOK, app.resultCode(t, cpuID))
	require.Equal(t, http.StatusOK, app.resultCode(t, failID), "a failed run is found: its status says FAILED")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err, "taking the screenshot")
	path := screenshotPath(t)
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot of the dashboard: %s", path)

	console.check(t)

	// A fetch still running at SIGTERM must be drained, not cancelled: the
	// app then exits 0, and counts it succeeded.
	app.enqueue(t, "/io?steps=3&step_ms=200")
	app.stop(t)
	require.Contains(t, app.stderr.String(), "stopped pool io: succeeded 2, failed 1, cancelled 0")
	require.Contains(t, app.stderr.String(), "stopped pool cpu: succeeded 1, failed 0, cancelled 0")
}

// findChromium returns the path of the Chromium binary, and fails the test
// without one: the dashboard's test must not pass by not running.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("no chromium or chromium-browser on PATH: the end-to-end tests drive a real browser; install Debian's chromium package: apt-get install chromium")
	return ""
}

// webapp is the example web app, running.
type webapp struct {
	base   string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's, once exited is closed
	stderr *testkit.SyncBuffer
	client *http.Client
}

// startWebapp builds example/webapp and starts it on a free port with the
// dashboard's actions on. It is killed at the end of the test if it still
// runs.
func startWebapp(t *testing.T) *webapp {
	t.Helper()
	// The web app is a module of its own (it serves OpenTelemetry
	// metrics): build it in its directory.
	bin := testkit.Build(t, "../example/webapp", ".")

	stdout := testkit.NewLineCatcher()
	app := &webapp{
		cmd:    exec.Command(bin, "-addr", "127.0.0.1:0", "-actions"),
		exited: make(chan struct{}),
		stderr: &testkit.SyncBuffer{},
		client: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout},
	}
	app.cmd.Stdout, app.cmd.Stderr = stdout, app.stderr
	require.NoError(t, app.cmd.Start())
	go func() {
		app.err = app.cmd.Wait()
		close(app.exited)
	}()
	t.Cleanup(func() {
		app.client.CloseIdleConnections()
		app.cmd.Process.Kill() // a backstop: stop has normally reaped it
		<-app.exited
		if t.Failed() {
			t.Logf("the web app's stderr:\n%s", app.stderr)
		}
	})

	select {
	case line := <-stdout.First:
		addr, ok := strings.CutPrefix(line, "listening on ")
		require.True(t, ok, "the web app's first line is %q, not \"listening on http://HOST:PORT\"", line)
		app.base = addr
	case <-app.exited:
		t.Fatalf("the web app exited before listening: %v\n%s", app.err, app.stderr)
	case <-time.After(waitTimeout):
		t.Fatalf("the web app printed no \"listening on\" line within %v", waitTimeout)
	}
	return app
}

// enqueue posts to the web app and returns the new run's ID.
func (app *webapp) enqueue(t *testing.T, target string) string {
	t.Helper()
	resp, err := app.client.Post(app.base+target, "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ ID, Error string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "POST %s: %s", target, body.Error)
	require.NotEmpty(t, body.ID)
	require.Equal(t, "/results/"+body.ID, resp.Header.Get("Location"))
	return body.ID
}

// resultCode returns the status code of GET /results/{id}.
func (app *webapp) resultCode(t *testing.T, id string) int {
	t.Helper()
	resp, err := app.client.Get(app.base + "/results/" + id)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// stop sends SIGTERM to the web app, waits for it to exit, and requires the
// exit status 0 of a graceful shutdown.
func (app *webapp) stop(t *testing.T) {
	t.Helper()
	app.client.CloseIdleConnections()
	require.NoError(t, app.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-app.exited:
	case <-time.After(waitTimeout):
		t.Fatalf("the web app did not exit within %v of SIGTERM", waitTimeout)
	}
	require.NoError(t, app.err, "the web app's exit after SIGTERM; its stderr:\n%s", app.stderr)
}

// newBrowser starts a headless Chromium and returns the context of a tab.
// The browser is closed at the end of the test.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	// No timeout on the browser's own context: it would stop the browser.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(log.Printf))
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil { // closes the browser, and waits
			t.Logf("closing the browser: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	_, err := chromedp.Run(ctx, chromedp.Title()) // starts the browser
	require.NoError(t, err, "starting %s", chromium)
	return ctx
}

// do runs actions in the browser, failing the test with what on error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...), what)
}

// evaluate returns the value of a JavaScript expression in the page.
func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	require.NoError(t, err, "evaluating %s", expression)
	return v
}

// poll waits in the browser until the JavaScript function fn, called with
// args, returns a truthy value, and returns it. If it does not within
// waitTimeout, the test fails with what it waited for and the value of the
// expression dump, to see what the page showed instead.
func poll[T any](t *testing.T, ctx context.Context, what, dump, fn string, args ...any) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.PollFunction[T](fn,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(waitTimeout),
	))
	if err != nil {
		t.Fatalf("waiting for %s: %v\nthe page shows: %s", what, err, evaluate[string](t, ctx, dump))
	}
	return v
}

// openDetail opens the detail view of run id through the URL's fragment,
// and waits until it shows the run's status.
func openDetail(t *testing.T, ctx context.Context, id, status string) {
	t.Helper()
	fragment, _ := json.Marshal("task=" + id)
	evaluate[string](t, ctx, "location.hash = "+string(fragment))
	do(t, ctx, "showing #detail", chromedp.WaitVisible(chromedp.CSS("#detail")))
	poll[bool](t, ctx, "#detail-status to be "+status, dumpDetail, `(status) => {
		const s = document.querySelector('#detail-status');
		return !!s && s.textContent.trim() === status;
	}`, status)
}

// row is a row of the task table, as readRows reads it.
type row struct {
	Task     string `json:"task"`
	Status   string `json:"status"`
	Progress *meter `json:"progress"` // nil without a <progress>
}

// meter is the value and max of a <progress>.
type meter struct {
	Value float64 `json:"value"`
	Max   float64 `json:"max"`
}

// readRows reads the task table's rows, by run ID.
const readRows = `Object.fromEntries(Array.from(document.querySelectorAll('#tasks tr[data-id]'), (tr) => {
	const text = (sel) => (tr.querySelector(sel)?.textContent ?? '').trim();
	const p = tr.querySelector('td.progress progress');
	return [tr.dataset.id, {task: text('td.task'), status: text('td.status'),
		progress: p ? {value: p.value, max: p.max} : null}];
}))`

// dumpTable and dumpDetail describe what the page shows, for failures.
const (
	dumpTable  = `JSON.stringify(` + readRows + `, null, 1)`
	dumpDetail = `'location.hash = ' + location.hash + '; #detail: ' + (document.querySelector('#detail')?.outerHTML ?? 'missing')`
)

// screenshotPath returns where to save the screenshot: LOCALTASKS_SCREENSHOT,
// or dashboard.png in a directory of the system's temporary one that
// outlives the test, so that it can be looked at.
func screenshotPath(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("LOCALTASKS_SCREENSHOT"); path != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		return path
	}
	dir := filepath.Join(os.TempDir(), "localtasks-e2e")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return filepath.Join(dir, "dashboard.png")
}

// console collects what the page writes to its console.
type console struct {
	mu       sync.Mutex
	problems []string // uncaught exceptions and errors
	stop     context.CancelFunc
	done     chan struct{}
}

// watchConsole collects the messages of the tab of ctx until check.
func watchConsole(t *testing.T, ctx context.Context) *console {
	ctx, stop := context.WithCancel(ctx)
	c := &console{stop: stop, done: make(chan struct{})}
	messages := chromedp.Console(ctx) // subscribes now: nothing is missed
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return // the subscription ended
			}
			// Errors are console.error calls, and the browser's own
			// errors, such as a request the page made that failed.
			if m.IsException() || m.Type == chromedp.ConsoleError {
				c.mu.Lock()
				c.problems = append(c.problems, m.String())
				c.mu.Unlock()
			}
			if m.URL != "" {
				t.Logf("browser console: %s (%s)", m, m.URL)
			} else {
				t.Logf("browser console: %s", m)
			}
		}
	}()
	t.Cleanup(func() { stop(); <-c.done })
	return c
}

// check stops collecting, and fails the test if the page threw an
// exception or logged an error.
func (c *console) check(t *testing.T) {
	t.Helper()
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.problems, "the page logged errors or threw exceptions")
}
