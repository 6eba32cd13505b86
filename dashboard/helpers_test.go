package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// shopArgs is the argument of the tests' tasks that take a struct.
type shopArgs struct {
	Shop string
	N    int
}

// The tests' tasks. Task names are process-wide, so each has this package's
// prefix, and none is defined inside a test.
var (
	echoTask = localtasks.Define("dashboard_test.echo", func(ctx context.Context, a shopArgs) (shopArgs, error) {
		return a, nil
	})
	// blockTask runs until it is cancelled.
	blockTask = localtasks.Define("dashboard_test.block", func(ctx context.Context, a shopArgs) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	failTask = localtasks.Define("dashboard_test.fail", func(ctx context.Context, msg string) (int, error) {
		return 0, errors.New(msg)
	})
	panicTask = localtasks.Define("dashboard_test.panic", func(ctx context.Context, msg string) (int, error) {
		panic(msg)
	})
	// stepsTask reports progress, then runs until it is cancelled.
	stepsTask = localtasks.Define("dashboard_test.steps", func(ctx context.Context, total int) (int, error) {
		localtasks.SetProgress(ctx, 3, int64(total), "page 3")
		<-ctx.Done()
		return 0, ctx.Err()
	})
	floatTask = localtasks.Define("dashboard_test.float", func(ctx context.Context, f float64) (float64, error) {
		return f, nil
	})
)

// testTimeout bounds every wait of a test; reaching it is a failure.
const testTimeout = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newPool builds a private thread pool that the test's cleanup cancels
// every unfinished run of, and closes.
func newPool(t *testing.T, cfg localtasks.ThreadPoolConfig) *localtasks.ThreadPoolBackend {
	t.Helper()
	pool, err := localtasks.NewThreadPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		// The queued too: one listed READY may start before Close, and a
		// blocking task would then hold Close until its ctx ends. A run
		// that starts while the listing reads may be in neither of its
		// groups (see SnapshotOptions): list again until none is left.
		for {
			snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Limit: localtasks.SnapshotLimitMax,
				Statuses: []localtasks.Status{localtasks.StatusRunning, localtasks.StatusReady, localtasks.StatusScheduled}})
			require.NoError(t, err)
			runs := slices.Concat(snap.Running, snap.Queued, snap.Scheduled)
			if c := snap.Counts; len(runs) == 0 && c.Ready+c.Running+c.Scheduled == 0 {
				break
			}
			for _, res := range runs {
				err := pool.Cancel(ctx, res.ID)
				if !errors.Is(err, localtasks.ErrFinished) {
					require.NoError(t, err)
				}
				_, err = pool.Wait(ctx, res.ID) // so that the next listing is of other runs
				require.NoError(t, err)
			}
		}
		require.NoError(t, pool.Close(ctx))
	})
	return pool
}

// newHandler builds a dashboard of the backends.
func newHandler(t *testing.T, actions bool, backends ...localtasks.Backend) *dashboard.Handler {
	t.Helper()
	h, err := dashboard.New(dashboard.Config{Backends: backends, Actions: actions})
	require.NoError(t, err)
	return h
}

// serve sends a request to h, for host localhost:8080. A POST gets
// Content-Type application/json unless header says otherwise; header holds
// name, value pairs ("Host" sets the request's host).
func serve(h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = "localhost:8080"
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decode decodes a response's JSON body, refusing fields T lacks, so that
// a shape that drifts from the contract fails.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "body: %s", rec.Body)
	var v T
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v))
	return v
}

// requireError checks that rec is the API error of that status and code,
// with a message.
func requireError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) dashboard.Error {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	e := decode[dashboard.Error](t, rec)
	require.Equal(t, code, e.Code)
	require.NotEmpty(t, e.Message)
	return e
}

// raw decodes a response's JSON body into plain maps and slices, to check
// nulls and empty lists.
func raw(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), "body: %s", rec.Body)
	return m
}

// waitEvent reads sub until an event of that kind for run id arrives.
func waitEvent(t *testing.T, sub *localtasks.Subscription, id string, kind localtasks.EventKind) localtasks.Event {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case ev, ok := <-sub.C():
			require.True(t, ok, "subscription closed before the %v event of %s", kind, id)
			if ev.Result.ID == id && ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event for run %s within %v", kind, id, testTimeout)
		}
	}
}

// wait waits until the run id has finished.
func wait(t *testing.T, b localtasks.Backend, id string) localtasks.TaskResult {
	t.Helper()
	res, err := b.Wait(testContext(t), id)
	require.NoError(t, err)
	return res
}

// named gives a backend another name, for the label tests.
type named struct {
	localtasks.Controller
	name string
}

func (n named) Name() string { return n.name }

// readAll reads a body, for the page and asset tests.
func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}
