package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// A healthy backend answers 200 "ok", with its workers, its queue and no
// problem; the shape is the documented one, with nulls and empty lists
// where docs/api.md says.
func TestHealthOK(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2})
	sub := pool.Subscribe(64)
	defer sub.Close()
	running, err := blockTask.Enqueue(ctx, pool, shopArgs{Shop: "a"})
	require.NoError(t, err)
	waitEvent(t, sub, running.ID(), localtasks.EventStarted)
	_, err = echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{Shop: "later"})
	require.NoError(t, err)
	h := newHandler(t, false, pool)

	rec := serve(h, http.MethodGet, "/api/health", "")
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
	m := raw(t, rec)
	require.Equal(t, map[string]any{
		"name": "backend-1", "ok": true, "closed": false, "workers": 2.0, "workers_alive": 2.0,
		"queued": 0.0, "scheduled": 1.0, "running": 1.0,
		"worker_restarts": 0.0, "last_worker_restart": nil, "problems": []any{},
	}, m["backends"].([]any)[0])
	require.Equal(t, "ok", m["status"])
	require.Contains(t, m, "at")
	require.Len(t, m, 3, "status, at and backends")

	rec = serve(h, http.MethodGet, "/api/health", "")
	got := decode[dashboard.Health](t, rec) // no field the type lacks
	require.Equal(t, dashboard.HealthOK, got.Status)

	// Reads are not checked against AllowedHosts: a probe may use any
	// name, or none.
	rec = serve(h, http.MethodGet, "/api/health", "", "Host", "tasks.example.com")
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
}

// A closed backend makes the whole answer 503 "unhealthy", naming it and
// its problem; the other backend stays ok.
func TestHealthClosedBackendIs503(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	open := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	closed := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	h := newHandler(t, false, open, closed)
	require.Equal(t, http.StatusOK, serve(h, http.MethodGet, "/api/health", "").Code)

	require.NoError(t, closed.Close(ctx))
	rec := serve(h, http.MethodGet, "/api/health", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "body: %s", rec.Body)
	got := decode[dashboard.Health](t, rec)
	require.Equal(t, dashboard.HealthUnhealthy, got.Status)
	require.Len(t, got.Backends, 2)
	require.True(t, got.Backends[0].OK)
	require.Empty(t, got.Backends[0].Problems)
	bad := got.Backends[1]
	require.Equal(t, "backend-2", bad.Name)
	require.False(t, bad.OK)
	require.True(t, bad.Closed)
	require.Len(t, bad.Problems, 1)
	require.Contains(t, bad.Problems[0], "closed")

	// HEAD answers the same status, without a body.
	rec = serve(h, http.MethodHead, "/api/health", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

// HEAD api/health answers 200 for a healthy dashboard, as GET does.
func TestHealthHEAD(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	srv := httptest.NewServer(newHandler(t, false, pool))
	defer srv.Close()
	res, err := http.Head(srv.URL + "/api/health")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	require.Empty(t, readAll(t, res.Body))
}
