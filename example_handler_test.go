package localtasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

var greeting = localtasks.Define("example.handler.greet",
	func(ctx context.Context, name string) (string, error) { return "hello, " + name, nil },
)

// A web service enqueues in one request and answers 202 with the run's
// ID at once; a later request, with only that ID, fetches the outcome.
func Example_handler() {
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /greetings", func(w http.ResponseWriter, r *http.Request) {
		h, err := greeting.Enqueue(r.Context(), pool, r.FormValue("name"))
		if err != nil { // nothing was queued
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Location", "/greetings/"+h.ID())
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"id": h.ID()})
	})
	mux.HandleFunc("GET /greetings/{id}", func(w http.ResponseWriter, r *http.Request) {
		h, err := greeting.GetResult(r.Context(), pool, r.PathValue("id"))
		if errors.Is(err, localtasks.ErrResultNotFound) || errors.Is(err, localtasks.ErrResultMismatch) {
			http.NotFound(w, r) // unknown, evicted, or another task's run
			return
		}
		// A real service answers 202 while the run is unfinished; here
		// the request waits for it, to print it.
		out, err := h.Wait(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"greeting": out})
	})

	// The first request, then the later one by the ID it answered with.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/greetings?name=ada", nil))
	var enqueued struct{ ID string }
	json.NewDecoder(rec.Body).Decode(&enqueued)
	fmt.Println(rec.Code, strings.HasSuffix(rec.Header().Get("Location"), enqueued.ID))

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/greetings/"+enqueued.ID, nil))
	fmt.Print(rec.Code, " ", rec.Body)

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/greetings/8c1f3b9e-3a43-4b6e-9a5c-2f6d7f1e0b2a", nil))
	fmt.Println(rec.Code)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// 202 true
	// 200 {"greeting":"hello, ada"}
	// 404
}
