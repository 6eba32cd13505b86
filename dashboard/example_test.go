package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

var greet = localtasks.Define("dashboard_test.example.greet", func(ctx context.Context, name string) (string, error) {
	return "hello, " + name, nil
})

// Mount the dashboard under /tasks/ of an application's mux, then fetch a
// run through its JSON API. Without Config.Actions it is read-only.
func Example() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", h))

	run, err := greet.Enqueue(ctx, pool, "ada")
	if err != nil {
		panic(err)
	}
	if _, err := run.Wait(ctx); err != nil {
		panic(err)
	}

	get := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		mux.ServeHTTP(rec, req)
		return rec
	}
	fmt.Println(get("GET", "/tasks/").Code)
	rec := get("GET", "/tasks/api/results/"+run.ID())
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"value":"hello, ada"`))
	rec = get("POST", "/tasks/api/results/"+run.ID()+"/retry")
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200
	// 200 true
	// 403 {"error":"actions are disabled: this dashboard is read-only; set dashboard.Config.Actions to allow cancel, retry, strike, restore, pause and resume","code":"actions_disabled"}
}
