package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/example/tasks"
)

// How long each stage of the web process's shutdown may take.
const (
	shutdownTimeout = 10 * time.Second // for requests in flight to end
	closeTimeout    = 10 * time.Second // for the backend to stop
)

// paramMax bounds a url or seed, in bytes.
const paramMax = 2048

// serve answers the API on cfg.addr until ctx ends, through a backend that
// enqueues and reads runs but runs none (Workers: 0). It prints "listening
// on http://HOST:PORT" once the listener is bound.
func serve(ctx context.Context, pool *pgxpool.Pool, cfg config, logger *slog.Logger, stdout io.Writer) error {
	b, err := ltriver.New(ctx, pool, ltriver.Config{Name: "river", Schema: cfg.schema, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return errors.Join(err, closeBackend(b))
	}
	srv := &http.Server{
		Handler:           newHandler(b),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // Serve closes ln
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served: // Serve failed: shut down all the same
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("stopping the HTTP server: %w", err))
	}
	return errors.Join(serveErr, closeBackend(b))
}

func closeBackend(b *ltriver.Backend) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return b.Close(ctx)
}

// newHandler routes the API onto b.
func newHandler(b localtasks.Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("POST /fetch", func(w http.ResponseWriter, r *http.Request) {
		url, err := param(w, r, "url")
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		h, err := tasks.Fetch.Enqueue(r.Context(), b, url)
		accepted(w, h.ID(), err)
	})
	mux.HandleFunc("POST /digest", func(w http.ResponseWriter, r *http.Request) {
		seed, err := param(w, r, "seed")
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		h, err := tasks.Digest.Enqueue(r.Context(), b, seed)
		accepted(w, h.ID(), err)
	})
	mux.HandleFunc("GET /results/{id}", func(w http.ResponseWriter, r *http.Request) {
		result(w, r, b)
	})
	return mux
}

func index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `localtasks on River: the quick start's tasks, run by worker processes

POST /fetch?url=URL     enqueue a fetch
POST /digest?seed=TEXT  enqueue a digest
GET  /results/{id}      a run's status, and its value and workers once done
`)
}

// param returns the named parameter, from the query string or a form
// body: it must be there, and at most paramMax bytes long.
func param(w http.ResponseWriter, r *http.Request, name string) (string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*paramMax)
	if err := r.ParseForm(); err != nil {
		return "", fmt.Errorf("cannot read the parameters: %w", err)
	}
	v := r.Form.Get(name)
	switch {
	case v == "":
		return "", fmt.Errorf("no %s: give it in the query string or a form body", name)
	case len(v) > paramMax:
		return "", fmt.Errorf("%s is %d bytes long: use at most %d", name, len(v), paramMax)
	}
	return v, nil
}

// accepted answers an Enqueue: 202 with the run's ID and where to poll, or
// the error.
func accepted(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, localtasks.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("the server is shutting down: try again later: %w", err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, err) // the client has most likely gone
	case err != nil: // nothing was queued
		writeError(w, http.StatusInternalServerError, err)
	default:
		w.Header().Set("Location", "/results/"+id)
		writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
	}
}

// resultBody is what GET /results/{id} answers.
type resultBody struct {
	ID       string            `json:"id"`
	Task     string            `json:"task"`
	Status   localtasks.Status `json:"status"`
	Attempts int               `json:"attempts"`
	// Worker is the River client that ran the last attempt: the one that
	// produced the value or the error.
	Worker string `json:"worker,omitempty"`
	// WorkerIDs has the River client of each attempt, in order.
	WorkerIDs []string `json:"worker_ids,omitempty"`
	Value     any      `json:"value,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// result answers GET /results/{id}. The code says whether the GET found
// the run, and the body's "status" where the run is, as
// docs/getting-started.md advises (a FAILED run is no failed GET):
//
//	200 OK: the run, whatever its status: SCHEDULED, READY or RUNNING with
//	        Retry-After: 1 (poll again); SUCCESSFUL with the value; FAILED
//	        with the last attempt's error; CANCELLED with the reason
//	404 Not Found: no run has the ID (or River's cleaner has deleted it)
//	503 Service Unavailable: the database did not answer
func result(w http.ResponseWriter, r *http.Request, b localtasks.Backend) {
	id := r.PathValue("id")
	res, err := b.GetResult(r.Context(), id)
	switch {
	case errors.Is(err, localtasks.ErrResultNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("no run has the ID %q", id))
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	body := resultBody{ID: res.ID, Task: res.Task, Status: res.Status, Attempts: res.Attempts, WorkerIDs: res.WorkerIDs}
	if n := len(res.WorkerIDs); n > 0 {
		body.Worker = res.WorkerIDs[n-1]
	}
	switch res.Status {
	case localtasks.StatusSuccessful:
		body.Value = res.Value
	case localtasks.StatusFailed:
		body.Error = "the task failed"
		if n := len(res.Errors); n > 0 {
			body.Error = res.Errors[n-1].Error()
		}
	case localtasks.StatusCancelled:
		body.Error = "cancelled: " + res.CancelReason
	default:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client has gone, if it fails
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
