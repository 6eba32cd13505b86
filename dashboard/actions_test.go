package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

func TestActionsDisabled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	later, err := echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)

	for _, path := range []string{
		"/api/results/" + later.ID() + "/cancel",
		"/api/results/" + later.ID() + "/retry",
		"/api/strikes",
		"/api/strikes/restore",
	} {
		t.Run(path, func(t *testing.T) {
			rec := serve(h, "POST", path, `{"task": "dashboard_test.echo"}`)
			e := requireError(t, rec, http.StatusForbidden, dashboard.CodeActionsDisabled)
			require.Contains(t, e.Message, "Config.Actions")
		})
	}
	// Nothing changed.
	st, err := later.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, st)
	require.Empty(t, pool.Strikes())
}

// A DNS-rebinding page reaches a dashboard on 127.0.0.1 under a name of
// its own, same-origin as far as the browser knows: actions check Host
// against loopback names, IP addresses and Config.AllowedHosts.
func TestActionsCheckHost(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	body := `{"task": "dashboard_test.echo"}`
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Actions: true,
		AllowedHosts: []string{"tasks.example.com", ".corp.example"}})
	require.NoError(t, err)
	for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example:8080", "example.com", "tasks.example.com.attacker.example", "corp.example.evil"} {
		rec := serve(h, "POST", "/api/strikes", body, "Host", host, "Sec-Fetch-Site", "same-origin")
		e := requireError(t, rec, http.StatusForbidden, dashboard.CodeHostNotAllowed)
		require.Contains(t, e.Message, "AllowedHosts", host)
	}
	require.Empty(t, pool.Strikes(), "no refused action changed anything")
	// Reads are not checked.
	require.Equal(t, http.StatusOK, serve(h, "GET", "/api/snapshot", "", "Host", "rebind.attacker.example").Code)

	for _, host := range []string{"localhost", "localhost:8080", "app.localhost:3000", "127.0.0.1:8080", "[::1]:8080", "10.1.2.3",
		"tasks.example.com", "TASKS.example.com:443", "tasks.example.com.", "corp.example", "a.b.corp.example"} {
		rec := serve(h, "POST", "/api/strikes", body, "Host", host, "Sec-Fetch-Site", "same-origin")
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", host, rec.Body)
	}

	open, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Actions: true, AllowedHosts: []string{"*"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, serve(open, "POST", "/api/strikes", body, "Host", "anything.example").Code)

	for _, bad := range []string{"", "https://tasks.example.com", "tasks.example.com:8080", "*.example.com", "tasks.example.com/x"} {
		_, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, AllowedHosts: []string{bad}})
		require.ErrorContains(t, err, "Config.AllowedHosts[0]", "%q", bad)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	body := `{"task": "dashboard_test.echo"}`
	for _, actions := range []bool{true, false} {
		h := newHandler(t, actions, pool)
		for _, header := range [][]string{
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site"},
			{"Origin", "https://attacker.example"},
		} {
			rec := serve(h, "POST", "/api/strikes", body, header...)
			requireError(t, rec, http.StatusForbidden, dashboard.CodeCrossOrigin)
		}
	}
	require.Empty(t, pool.Strikes())

	// The page's own requests, and those of clients that are not browsers,
	// pass.
	h := newHandler(t, true, pool)
	require.Equal(t, http.StatusOK, serve(h, "POST", "/api/strikes", body, "Sec-Fetch-Site", "same-origin").Code)
	require.Equal(t, http.StatusOK, serve(h, "POST", "/api/strikes", body, "Origin", "http://localhost:8080").Code)
	require.Equal(t, http.StatusOK, serve(h, "POST", "/api/strikes", body).Code)
	// Reads are never refused.
	require.Equal(t, http.StatusOK, serve(h, "GET", "/api/snapshot", "", "Sec-Fetch-Site", "cross-site").Code)
}

func TestActionsTakeOnlyJSON(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	later, err := echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)

	for _, path := range []string{"/api/results/" + later.ID() + "/cancel", "/api/results/" + later.ID() + "/retry", "/api/strikes", "/api/strikes/restore"} {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "", ";;"} {
			t.Run(path+" "+ct, func(t *testing.T) {
				rec := serve(h, "POST", path, `{}`, "Content-Type", ct)
				e := requireError(t, rec, http.StatusUnsupportedMediaType, dashboard.CodeUnsupportedMediaType)
				require.Contains(t, e.Message, "application/json")
			})
		}
	}
	// Parameters are fine.
	rec := serve(h, "POST", "/api/results/"+later.ID()+"/cancel", `{}`, "Content-Type", "application/json; charset=utf-8")
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	cancel := func(id, body string) *httptest.ResponseRecorder {
		return serve(h, "POST", "/api/results/"+id+"/cancel", body)
	}

	later, err := echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	task := decode[dashboard.Task](t, cancel(later.ID(), ""))
	require.Equal(t, later.ID(), task.ID)
	require.Equal(t, "CANCELLED", task.Status)
	require.NotEmpty(t, task.CancelReason)
	// Cancelling a cancelled run is not an error.
	require.Equal(t, http.StatusOK, cancel(later.ID(), "{}").Code)

	// A running run ends CANCELLED once its task returns.
	sub := pool.Subscribe(0)
	defer sub.Close()
	running, err := blockTask.Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	waitEvent(t, sub, running.ID(), localtasks.EventStarted)
	task = decode[dashboard.Task](t, cancel(running.ID(), " {} "))
	require.Contains(t, []string{"RUNNING", "CANCELLED"}, task.Status)
	require.Equal(t, localtasks.StatusCancelled, wait(t, pool, running.ID()).Status)

	done, err := echoTask.Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	wait(t, pool, done.ID())
	e := requireError(t, cancel(done.ID(), ""), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "finished")

	requireError(t, cancel(uuid.NewString(), ""), http.StatusNotFound, dashboard.CodeNotFound)
	requireError(t, cancel(later.ID(), `{"reason": "x"}`), http.StatusBadRequest, dashboard.CodeBadRequest)
	requireError(t, cancel(later.ID(), `[`), http.StatusBadRequest, dashboard.CodeBadRequest)
}

func TestRetry(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: []string{"default", "bulk"}}})
	h := newHandler(t, true, pool)
	retry := func(id string) *httptest.ResponseRecorder {
		return serve(h, "POST", "/api/results/"+id+"/retry", "")
	}

	failed, err := failTask.Using(localtasks.WithQueue("bulk"), localtasks.WithPriority(5)).Enqueue(ctx, pool, "boom")
	require.NoError(t, err)
	wait(t, pool, failed.ID())

	rec := retry(failed.ID())
	require.Equal(t, http.StatusCreated, rec.Code, "body: %s", rec.Body)
	task := decode[dashboard.Task](t, rec)
	require.NotEqual(t, failed.ID(), task.ID)
	base, err := url.Parse("http://example.test/tasks/api/results/" + failed.ID() + "/retry")
	require.NoError(t, err)
	loc, err := base.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/tasks/api/results/"+task.ID, loc.Path, "Location resolves to the new run's result")
	require.Equal(t, "dashboard_test.fail", task.Task)
	require.JSONEq(t, `"boom"`, string(task.Args))
	// The new run keeps the old one's queue and priority.
	require.Equal(t, "bulk", task.Queue)
	require.Equal(t, 5, task.Priority)
	res := wait(t, pool, task.ID)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, "boom", res.Args)

	later, err := echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	e := requireError(t, retry(later.ID()), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "SCHEDULED")

	requireError(t, retry(uuid.NewString()), http.StatusNotFound, dashboard.CodeNotFound)
	requireError(t, serve(h, "POST", "/api/results/"+failed.ID()+"/retry", `{"x": 1}`), http.StatusBadRequest, dashboard.CodeBadRequest)
}

func TestRetryOnAClosedBackendIsAConflict(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	done, err := echoTask.Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	wait(t, pool, done.ID())
	require.NoError(t, pool.Close(ctx))

	e := requireError(t, serve(h, "POST", "/api/results/"+done.ID()+"/retry", ""), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "closed")
}

func TestStrikeAndRestore(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newPool(t, localtasks.ThreadPoolConfig{})
	b := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, named{a, "io"}, named{b, "cpu"})
	post := func(path, body string) *httptest.ResponseRecorder { return serve(h, "POST", path, body) }

	// No backend: every backend. 2.0 fits the int field N.
	rec := post("/api/strikes", `{"task": "dashboard_test.echo", "field": "N", "op": ">=", "value": 2.0}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	want := []dashboard.Strike{
		{Backend: "io", Task: "dashboard_test.echo", Field: "N", Op: ">=", Value: 2.0},
		{Backend: "cpu", Task: "dashboard_test.echo", Field: "N", Op: ">=", Value: 2.0},
	}
	require.Equal(t, dashboard.Strikes{Strikes: want}, decode[dashboard.Strikes](t, rec))

	hd, err := echoTask.Enqueue(ctx, a, shopArgs{N: 3})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, hd.Disposition())
	hd, err = echoTask.Enqueue(ctx, b, shopArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, hd.Disposition())

	// The snapshot lists them per backend.
	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, want[:1], snap.Backends[0].Strikes)
	require.Equal(t, want[1:], snap.Backends[1].Strikes)

	// A strike on one backend, of the whole task.
	rec = post("/api/strikes", `{"backend": "cpu", "task": "dashboard_test.fail"}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Equal(t, append(want, dashboard.Strike{Backend: "cpu", Task: "dashboard_test.fail"}),
		decode[dashboard.Strikes](t, rec).Strikes)
	require.Len(t, a.Strikes(), 1)

	// Restore from one backend, then from all: the backends without it
	// do not matter.
	rec = post("/api/strikes/restore", `{"backend": "io", "task": "dashboard_test.echo", "field": "N", "op": ">=", "value": 2}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Len(t, decode[dashboard.Strikes](t, rec).Strikes, 2)
	rec = post("/api/strikes/restore", `{"task": "dashboard_test.echo", "field": "N", "op": ">=", "value": 2}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Equal(t, []dashboard.Strike{{Backend: "cpu", Task: "dashboard_test.fail"}}, decode[dashboard.Strikes](t, rec).Strikes)
	rec = post("/api/strikes/restore", `{"task": "dashboard_test.fail"}`)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Equal(t, dashboard.Strikes{Strikes: []dashboard.Strike{}}, decode[dashboard.Strikes](t, rec))

	// Lifting a strike in force nowhere is a bad request.
	e := requireError(t, post("/api/strikes/restore", `{"task": "dashboard_test.fail"}`), http.StatusBadRequest, dashboard.CodeBadRequest)
	require.Contains(t, e.Message, "no such strike")
}

func TestStrikeBadRequests(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, named{pool, "io"})
	for _, tc := range []struct{ name, body, says string }{
		{"empty", ``, "malformed"},
		{"malformed", `{"task":`, "malformed"},
		{"not an object", `["dashboard_test.echo"]`, "malformed"},
		{"unknown field", `{"task": "dashboard_test.echo", "reason": "x"}`, "unknown field"},
		{"two objects", `{"task": "dashboard_test.echo"} {}`, "more after"},
		{"no task and no field", `{"op": "==", "value": 1}`, "no task and no field"},
		{"no task has the field", `{"field": "NoTaskHasThis", "op": "==", "value": 1}`, "no task defined has a field"},
		{"undefined task", `{"task": "dashboard_test.nope"}`, "no task"},
		{"unknown operator", `{"task": "dashboard_test.echo", "field": "N", "op": "~", "value": 1}`, "unknown operator"},
		{"unknown field of the argument", `{"task": "dashboard_test.echo", "field": "Nope", "op": "==", "value": 1}`, "Nope"},
		{"missing value", `{"task": "dashboard_test.echo", "field": "N", "op": "=="}`, "missing"},
		{"a fraction for an int", `{"task": "dashboard_test.echo", "field": "N", "op": "==", "value": 2.5}`, "exactly"},
		{"a string for an int", `{"task": "dashboard_test.echo", "field": "N", "op": "==", "value": "2"}`, "string"},
		{"bounds out of order", `{"task": "dashboard_test.echo", "field": "N", "op": "between", "value": 5, "upper": 1}`, "above"},
		{"unknown backend", `{"backend": "cpu", "task": "dashboard_test.echo"}`, `no backend "cpu"`},
		{"op is not a string", `{"task": "dashboard_test.echo", "field": "N", "op": 1, "value": 1}`, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/strikes", "/api/strikes/restore"} {
				e := requireError(t, serve(h, "POST", path, tc.body), http.StatusBadRequest, dashboard.CodeBadRequest)
				require.Contains(t, e.Message, tc.says)
			}
		})
	}
	require.Empty(t, pool.Strikes())
}

// A strike without a task is on every task whose argument has its field.
func TestStrikeOnEveryTask(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, named{pool, "io"})
	body := `{"field": "N", "op": "==", "value": 1}`
	rec := serve(h, "POST", "/api/strikes", body)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Equal(t, dashboard.Strikes{Strikes: []dashboard.Strike{{Backend: "io", Field: "N", Op: "==", Value: float64(1)}}},
		decode[dashboard.Strikes](t, rec))
	require.Equal(t, []localtasks.Strike{{Field: "N", Op: localtasks.OpEqual, Value: float64(1)}}, pool.Strikes())
	rec = serve(h, "POST", "/api/strikes/restore", body)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	require.Empty(t, pool.Strikes())
}

func TestStrikeBodyIsBounded(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	big := `{"task": "` + string(make([]byte, 2<<20)) + `"}`
	e := requireError(t, serve(h, "POST", "/api/strikes", big), http.StatusBadRequest, dashboard.CodeBadRequest)
	require.Contains(t, e.Message, "at most")
}

// A backend with none of the optional interfaces is shown by its name and
// results: the snapshot has none of its runs, the events none of its, and a
// strike on it is a conflict that says why.
func TestBackendWithoutOptionalInterfaces(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	full := newPool(t, localtasks.ThreadPoolConfig{})
	bare := struct{ localtasks.Backend }{named{newPool(t, localtasks.ThreadPoolConfig{}), "bare"}}
	_, isStriker := any(bare).(localtasks.Striker)
	require.False(t, isStriker, "the test's backend hides the optional interfaces")
	h := newHandler(t, true, named{full, "full"}, bare)

	hd, err := echoTask.Enqueue(ctx, bare, shopArgs{N: 1})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.NoError(t, err)

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot", ""))
	require.Equal(t, "bare", snap.Backends[1].Name)
	require.Empty(t, snap.Backends[1].Finished, "no Snapshotter: no runs listed")
	res := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, "bare", res.Backend, "results are found on any Backend")

	e := requireError(t, serve(h, "POST", "/api/strikes", `{"backend": "bare", "task": "dashboard_test.echo"}`), http.StatusConflict, dashboard.CodeConflict)
	require.Contains(t, e.Message, "Striker")
	rec := serve(h, "POST", "/api/strikes", `{"task": "dashboard_test.echo"}`)
	require.Equal(t, http.StatusOK, rec.Code, "every backend means every Striker: body %s", rec.Body)
	require.Equal(t, []dashboard.Strike{{Backend: "full", Task: "dashboard_test.echo"}}, decode[dashboard.Strikes](t, rec).Strikes)
}
