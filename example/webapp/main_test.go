package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	localtasks.Init() // the test binary is also the process pool's worker
	goleak.VerifyTestMain(m)
}

// request sends a request to h and returns the response.
func request(t *testing.T, h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode decodes w's JSON body.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// newRecording returns a RecordingBackend closed when the test ends.
func newRecording(t *testing.T) *localtasks.RecordingBackend {
	t.Helper()
	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close(context.Background()) })
	return rec
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tests := []struct {
		name, target, contentType, body string
		code                            int
		want                            string
	}{
		{"negative steps", "/io?steps=-1", "", "", 400, "steps -1 is out of range: use 1 to 100"},
		{"too many steps", "/io?steps=101", "", "", 400, "steps 101 is out of range"},
		{"steps not a number", "/io?steps=three", "", "", 400, `steps "three" is not an integer`},
		{"step too long", "/io?step_ms=10001", "", "", 400, "step_ms 10001 is out of range: use 1 to 10000"},
		{"not an http URL", "/io?url=ftp://example.com/x", "", "", 400, `url "ftp://example.com/x" is not an absolute http or https URL`},
		{"relative URL", "/io?url=/x", "", "", 400, "is not an absolute http or https URL"},
		{"unknown parameter", "/io?stpes=3", "", "", 400, `unknown parameter "stpes": use url, steps, step_ms`},
		{"bad form body", "/io", "application/x-www-form-urlencoded", "steps=0x10", 400, `steps "0x10" is not an integer`},
		{"JSON of the wrong type", "/io", js, `{"steps": "three"}`, 400, "the body is not a JSON object of the task's parameters"},
		{"JSON unknown field", "/io", js, `{"stpes": 3}`, 400, `unknown field "stpes"`},
		{"JSON not an object", "/io", js, `[1]`, 400, "the body is not a JSON object"},
		{"JSON two values", "/io", js, `{} {}`, 400, "the body has more than one JSON value"},
		{"JSON out of range", "/io", js, `{"steps": 1000}`, 400, "steps 1000 is out of range"},
		{"negative bound", "/cpu?below=-5", "", "", 400, "below -5 is out of range: use 1 to 1000000000"},
		{"bound too large", "/cpu", js, `{"below": 2000000000}`, 400, "below 2000000000 is out of range"},
		{"fractional bound", "/cpu", js, `{"below": 1.5}`, 400, "the body is not a JSON object"},
		{"reason too long", "/fail?reason=" + strings.Repeat("x", 501), "", "", 400, "reason is 501 bytes long: use at most 500"},
		{"unknown fail parameter", "/fail?why=x", "", "", 400, `unknown parameter "why": use reason`},
	}
	rec := newRecording(t)
	h := newHandler(rec, rec, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := request(t, h, "POST", tt.target, tt.contentType, tt.body)
			require.Equal(t, tt.code, w.Code, w.Body.String())
			require.Contains(t, decode[map[string]string](t, w)["error"], tt.want)
		})
	}
	require.Empty(t, rec.Recorded(), "a rejected request must enqueue nothing")
}

func TestEnqueueWrongMethod(t *testing.T) {
	t.Parallel()
	rec := newRecording(t)
	w := request(t, newHandler(rec, rec, nil), "GET", "/io", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
}

func TestEnqueueAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, contentType, body string
		task                            string
		args                            any
	}{
		{"fetch defaults", "/io", "", "", "webapp.fetch", FetchArgs{URL: fetchURLDefault, Steps: 5, StepMS: 200}},
		{"fetch from the query", "/io?url=https://go.dev/&steps=3&step_ms=10", "", "", "webapp.fetch", FetchArgs{URL: "https://go.dev/", Steps: 3, StepMS: 10}},
		{"fetch from a form", "/io", "application/x-www-form-urlencoded", "steps=7", "webapp.fetch", FetchArgs{URL: fetchURLDefault, Steps: 7, StepMS: 200}},
		{"fetch from JSON", "/io", "application/json; charset=utf-8", `{"url": "http://a.test/", "step_ms": 1}`, "webapp.fetch", FetchArgs{URL: "http://a.test/", Steps: 5, StepMS: 1}},
		{"fetch from empty JSON", "/io", "application/json", "", "webapp.fetch", FetchArgs{URL: fetchURLDefault, Steps: 5, StepMS: 200}},
		{"primes default", "/cpu", "", "", "webapp.primes", PrimesArgs{Below: primesBelowDefault}},
		{"primes from JSON", "/cpu", "application/json", `{"below": 1000}`, "webapp.primes", PrimesArgs{Below: 1000}},
		{"fail default", "/fail", "", "", "webapp.fail", FailArgs{Reason: failReasonDefault}},
		{"fail with a reason", "/fail?reason=disk+full", "", "", "webapp.fail", FailArgs{Reason: "disk full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecording(t)
			w := request(t, newHandler(rec, rec, nil), "POST", tt.target, tt.contentType, tt.body)
			require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			id := decode[map[string]string](t, w)["id"]
			require.NotEmpty(t, id)
			require.Equal(t, "/results/"+id, w.Header().Get("Location"))

			runs := rec.Recorded()
			require.Len(t, runs, 1)
			require.Equal(t, id, runs[0].ID)
			require.Equal(t, tt.task, runs[0].Task)
			require.Equal(t, tt.args, runs[0].Args)
		})
	}
}

func TestEnqueueAfterClose(t *testing.T) {
	t.Parallel()
	rec := newRecording(t)
	require.NoError(t, rec.Close(context.Background()))
	w := request(t, newHandler(rec, rec, nil), "POST", "/io", "", "")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, decode[map[string]string](t, w)["error"], "the server is shutting down")
}

// pools returns a thread pool and a process pool of one worker, closed when
// the test ends.
func pools(t *testing.T) (*localtasks.ThreadPoolBackend, *localtasks.ProcessPoolBackend) {
	t.Helper()
	ioPool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ioPool.Close(context.Background())) })
	cpuPool, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cpuPool.Close(context.Background())) })
	return ioPool, cpuPool
}

// enqueue posts to h and returns the new run's ID.
func enqueue(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	w := request(t, h, "POST", target, "", "")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	return decode[map[string]string](t, w)["id"]
}

// result gets /results/{id} from h, and returns the code and body.
func result(t *testing.T, h http.Handler, id string) (int, resultBody, *httptest.ResponseRecorder) {
	t.Helper()
	w := request(t, h, "GET", "/results/"+id, "", "")
	var body resultBody
	if w.Code != http.StatusNotFound {
		body = decode[resultBody](t, w)
	}
	return w.Code, body, w
}

func TestResults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ioPool, cpuPool := pools(t)
	h := newHandler(ioPool, cpuPool, nil)

	t.Run("a fetch succeeds", func(t *testing.T) {
		id := enqueue(t, h, "/io?url=https://go.dev/&steps=3&step_ms=1")
		_, err := ioPool.Wait(ctx, id)
		require.NoError(t, err)
		code, body, w := result(t, h, id)
		require.Equal(t, http.StatusOK, code, w.Body.String())
		require.Equal(t, "webapp.fetch", body.Task)
		require.Equal(t, localtasks.StatusSuccessful, body.Status)
		require.Equal(t, &progressBody{Done: 3, Total: 3, Message: "chunk 3 of 3"}, body.Progress)
		require.Equal(t, "https://go.dev/", body.Value.(map[string]any)["url"])
		require.Empty(t, body.Error)
	})

	t.Run("primes are counted on the process pool", func(t *testing.T) {
		id := enqueue(t, h, "/cpu?below=100")
		_, err := cpuPool.Wait(ctx, id)
		require.NoError(t, err)
		code, body, w := result(t, h, id)
		require.Equal(t, http.StatusOK, code, w.Body.String())
		require.Equal(t, map[string]any{"below": 100.0, "count": 25.0}, body.Value)
		require.Equal(t, int64(100), body.Progress.Done)
		require.Equal(t, int64(100), body.Progress.Total)
	})

	t.Run("a failure is a 200 with the status and the error", func(t *testing.T) {
		id := enqueue(t, h, "/fail?reason=disk+full")
		_, err := ioPool.Wait(ctx, id)
		require.NoError(t, err)
		code, body, w := result(t, h, id)
		require.Equal(t, http.StatusOK, code, w.Body.String(), "the GET succeeded: a 5xx would say the server failed")
		require.Empty(t, w.Header().Get("Retry-After"), "it is finished: no need to poll")
		require.Equal(t, localtasks.StatusFailed, body.Status)
		require.Equal(t, "webapp.fail: disk full (this task fails on purpose)", body.Error)
		require.Nil(t, body.Value)
	})

	t.Run("a running fetch is a 200 with its progress, as is a cancelled one with the reason", func(t *testing.T) {
		sub := ioPool.Subscribe(0)
		defer sub.Close()
		id := enqueue(t, h, "/io?steps=100&step_ms=10000")
		for ev := range sub.C() { // until the fetch reports its first progress
			if ev.Kind == localtasks.EventProgress && ev.Result.ID == id {
				break
			}
		}
		code, body, w := result(t, h, id)
		require.Equal(t, http.StatusOK, code, w.Body.String())
		require.Equal(t, "1", w.Header().Get("Retry-After"), "poll again")
		require.Equal(t, localtasks.StatusRunning, body.Status)
		require.Equal(t, &progressBody{Done: 0, Total: 100, Message: "connecting to " + fetchURLDefault}, body.Progress)

		require.NoError(t, ioPool.Cancel(ctx, id))
		_, err := ioPool.Wait(ctx, id)
		require.NoError(t, err)
		code, body, w = result(t, h, id)
		require.Equal(t, http.StatusOK, code, w.Body.String())
		require.Empty(t, w.Header().Get("Retry-After"))
		require.Equal(t, localtasks.StatusCancelled, body.Status)
		require.True(t, strings.HasPrefix(body.Error, "cancelled: "), body.Error)
	})

	t.Run("an unknown ID is a 404", func(t *testing.T) {
		for _, id := range []string{"nope", "0b0e2f2a-56c4-4d36-9d4b-57d5bd1e0f0e"} {
			code, _, w := result(t, h, id)
			require.Equal(t, http.StatusNotFound, code, w.Body.String())
			require.Contains(t, decode[map[string]string](t, w)["error"], "no run has the ID")
		}
	})
}

func TestCountPrimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Against trial division, across the small bounds.
	count := 0
	for n := int64(0); n <= 3000; n++ {
		got, err := countPrimes(ctx, n)
		require.NoError(t, err)
		require.Equal(t, int64(count), got, "below %d", n)
		if isPrime(n) {
			count++
		}
	}
	// Known counts, across segment boundaries (a segment is 1<<16 at least).
	for n, want := range map[int64]int64{1 << 16: 6542, 1<<16 + 1: 6542, 1<<16 + 2: 6543 /* 65537 is prime */, 1_000_000: 78_498, 10_000_000: 664_579} {
		got, err := countPrimes(ctx, n)
		require.NoError(t, err)
		require.Equal(t, want, got, "below %d", n)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := countPrimes(cancelled, 1_000_000)
	require.ErrorIs(t, err, context.Canceled)
}

func isPrime(n int64) bool {
	if n < 2 {
		return false
	}
	for d := int64(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// lines is an io.Writer that sends each Write on a channel: run prints its
// one line with one Write.
type lines chan string

func (c lines) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(lines, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-actions"}, out) }()

	var line string
	select {
	case line = <-out:
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	}
	require.Regexp(t, `^listening on http://127\.0\.0\.1:\d+\n$`, line)
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string) *http.Response {
		resp, err := client.Get(base + path)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	require.Equal(t, http.StatusOK, get("/").StatusCode)
	require.Equal(t, http.StatusNoContent, get("/favicon.ico").StatusCode)
	metrics := get("/metrics")
	require.Equal(t, http.StatusOK, metrics.StatusCode)
	exposition, err := io.ReadAll(metrics.Body)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^localtasks_workers\{localtasks_backend="io"[^}]*\} 8$`, string(exposition))
	require.Regexp(t, `(?m)^localtasks_runs_active\{localtasks_backend="cpu",localtasks_run_status="READY"[^}]*\} 0$`, string(exposition))
	page := get("/tasks/")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.Header.Get("Content-Type"), "text/html")

	// A fetch that is running when the shutdown begins must finish: the
	// shutdown drains the pools.
	resp, err := client.Post(base+"/io?steps=3&step_ms=50", "", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	var enq struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&enq))
	resp.Body.Close()

	// An open event stream must not hold the shutdown up.
	events := get("/tasks/api/events")
	require.Equal(t, http.StatusOK, events.StatusCode)
	require.Contains(t, events.Header.Get("Content-Type"), "text/event-stream")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(shutdownTimeout / 2): // the stream was not ended at shutdown
		t.Fatal("run did not return after its ctx ended")
	}
	_, err = io.Copy(io.Discard, events.Body) // ends: the stream ended with the server
	require.NoError(t, err)
}

func TestRunBadArguments(t *testing.T) {
	ctx := context.Background()
	require.ErrorContains(t, run(ctx, []string{"-addr", "127.0.0.1:http-alt-nope"}, io.Discard), "listen tcp")
	require.ErrorContains(t, run(ctx, []string{"extra"}, io.Discard), `unexpected arguments ["extra"]`)
	require.Error(t, run(ctx, []string{"-nope"}, io.Discard))
}
