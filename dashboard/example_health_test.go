package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// Serve api/health to load balancers and Kubernetes probes, which carry no
// credentials, ahead of the authentication that guards the rest of the
// dashboard: it answers 200 while every backend is healthy, and 503 once
// one is closed.
func ExampleHandler_health() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)
	dash, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}})
	if err != nil {
		panic(err)
	}
	requireAdmin := func(http.Handler) http.Handler { // the application's own
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "log in first", http.StatusUnauthorized)
		})
	}
	tasks := http.StripPrefix("/tasks", dash)
	mux := http.NewServeMux()
	mux.Handle("/tasks/", requireAdmin(tasks))
	mux.Handle("GET /tasks/api/health", tasks) // GET and HEAD, for probes

	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	fmt.Println(get("/tasks/api/snapshot").Code)
	health := func() {
		rec := get("/tasks/api/health")
		var h dashboard.Health
		if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
			panic(err)
		}
		b := h.Backends[0]
		fmt.Println(rec.Code, h.Status, b.WorkersAlive, b.Closed, b.Problems)
	}
	health()
	pool.Close(ctx)
	health()
	// Output:
	// 401
	// 200 ok 2 false []
	// 503 unhealthy 2 true [the backend is closed: it accepts no more runs]
}
