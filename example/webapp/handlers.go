package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/localtasks/localtasks"
)

// The limits of the tasks' parameters, checked before anything is queued.
const (
	fetchURLDefault    = "https://example.com/"
	fetchStepsDefault  = 5
	fetchStepsMax      = 100
	fetchStepMSDefault = 200
	fetchStepMSMax     = 10_000
	primesBelowDefault = 10_000_000
	primesBelowMax     = 1_000_000_000
	failReasonDefault  = "the upstream answered 503 Service Unavailable"
	failReasonMax      = 500
	bodyMax            = 64 << 10
)

// newHandler routes the API: it enqueues fetches and failures on io, prime
// counts on cpu, and finds results on either. dash, when not nil, is served
// under /tasks/.
func newHandler(io, cpu localtasks.Backend, dash http.Handler) http.Handler {
	a := &api{io: io, cpu: cpu}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("POST /io", a.enqueueFetch)
	mux.HandleFunc("POST /cpu", a.enqueuePrimes)
	mux.HandleFunc("POST /fail", a.enqueueFail)
	mux.HandleFunc("GET /results/{id}", a.result)
	// Browsers ask for an icon; without one, each page's console logs a 404.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	if dash != nil {
		mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	}
	return mux
}

// api holds the backends the handlers use.
type api struct {
	io, cpu localtasks.Backend
}

func index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `localtasks web app

POST /io?url=URL&steps=5&step_ms=200  a slow fetch on the thread pool "io"
POST /cpu?below=10000000              count primes on the process pool "cpu"
POST /fail?reason=TEXT                a task that fails, on "io"
GET  /results/{id}                    a run's status, progress and outcome
GET  /tasks/                          the dashboard

Parameters go in the query string, a form body, or a JSON object
(Content-Type: application/json).
`)
}

func (a *api) enqueueFetch(w http.ResponseWriter, r *http.Request) {
	var args FetchArgs
	err := readArgs(r, &args, func(f *form) {
		args.URL = f.str("url")
		args.Steps = int(f.int("steps"))
		args.StepMS = int(f.int("step_ms"))
	})
	if err == nil {
		err = args.check()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	h, err := Fetch.Enqueue(r.Context(), a.io, args)
	accepted(w, h.ID(), err)
}

func (a *api) enqueuePrimes(w http.ResponseWriter, r *http.Request) {
	var args PrimesArgs
	err := readArgs(r, &args, func(f *form) {
		args.Below = f.int("below")
	})
	if err == nil {
		err = args.check()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	h, err := Primes.Enqueue(r.Context(), a.cpu, args)
	accepted(w, h.ID(), err)
}

func (a *api) enqueueFail(w http.ResponseWriter, r *http.Request) {
	var args FailArgs
	err := readArgs(r, &args, func(f *form) {
		args.Reason = f.str("reason")
	})
	if err == nil {
		err = args.check()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	h, err := Fail.Enqueue(r.Context(), a.io, args)
	accepted(w, h.ID(), err)
}

// check applies FetchArgs' defaults and checks its limits.
func (a *FetchArgs) check() error {
	if a.URL == "" {
		a.URL = fetchURLDefault
	}
	if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute http or https URL", a.URL)
	}
	if a.Steps == 0 {
		a.Steps = fetchStepsDefault
	}
	if a.Steps < 1 || a.Steps > fetchStepsMax {
		return fmt.Errorf("steps %d is out of range: use 1 to %d", a.Steps, fetchStepsMax)
	}
	if a.StepMS == 0 {
		a.StepMS = fetchStepMSDefault
	}
	if a.StepMS < 1 || a.StepMS > fetchStepMSMax {
		return fmt.Errorf("step_ms %d is out of range: use 1 to %d", a.StepMS, fetchStepMSMax)
	}
	return nil
}

// check applies PrimesArgs' default and checks its limits.
func (a *PrimesArgs) check() error {
	if a.Below == 0 {
		a.Below = primesBelowDefault
	}
	if a.Below < 1 || a.Below > primesBelowMax {
		return fmt.Errorf("below %d is out of range: use 1 to %d", a.Below, primesBelowMax)
	}
	return nil
}

// check applies FailArgs' default and checks its limit.
func (a *FailArgs) check() error {
	if a.Reason == "" {
		a.Reason = failReasonDefault
	}
	if len(a.Reason) > failReasonMax {
		return fmt.Errorf("reason is %d bytes long: use at most %d", len(a.Reason), failReasonMax)
	}
	return nil
}

// accepted answers an Enqueue: 202 with the run's ID and where to poll, or
// the error. The arguments were checked before, so an ErrInvalidTask here
// is the program's fault, not the client's.
func accepted(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, localtasks.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("the server is shutting down: try again later: %w", err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, err) // the client has most likely gone
	case err != nil:
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
	Backend  string            `json:"backend"`
	Status   localtasks.Status `json:"status"`
	Attempts int               `json:"attempts"`
	Progress *progressBody     `json:"progress,omitempty"`
	Value    any               `json:"value,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// progressBody is a run's latest progress report.
type progressBody struct {
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Message string `json:"message"`
}

// result answers GET /results/{id}. The code says whether the GET found
// the run, and the body's "status" where the run is, as
// docs/getting-started.md advises:
//
//	200 OK: the run, whatever its status: SCHEDULED, READY or RUNNING with
//	        the latest progress and Retry-After: 1 (poll again); SUCCESSFUL
//	        with the value; FAILED with the last attempt's error; CANCELLED
//	        with the reason
//	404 Not Found: no backend knows the ID (unknown, malformed or evicted)
//	500 Internal Server Error: a backend could not answer
//
// A FAILED run is not a 500: the GET succeeded, and a 5xx would tell
// monitoring, proxies and retrying clients that this server failed, for
// every poll of a task that failed on purpose. Nor is a CANCELLED one a
// 409: a read conflicts with nothing.
func (a *api) result(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var res localtasks.TaskResult
	err := localtasks.ErrResultNotFound
	for _, b := range []localtasks.Backend{a.io, a.cpu} {
		if res, err = b.GetResult(r.Context(), id); !errors.Is(err, localtasks.ErrResultNotFound) {
			break
		}
	}
	switch {
	case errors.Is(err, localtasks.ErrResultNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("no run has the ID %q: it is unknown, or its result was evicted", id))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
		return
	}

	body := resultBody{ID: res.ID, Task: res.Task, Backend: res.Backend, Status: res.Status, Attempts: res.Attempts}
	if p := res.Progress; !p.At.IsZero() {
		body.Progress = &progressBody{Done: p.Done, Total: p.Total, Message: p.Message}
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

// readArgs fills args from r: from a JSON object when the body is
// application/json, else from the query string and a form body through
// fromForm. Unknown parameters are an error, so that a typo does not
// silently become a default. Every error it returns is the client's: 400.
func readArgs(r *http.Request, args any, fromForm func(*form)) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		dec := json.NewDecoder(io.LimitReader(r.Body, bodyMax))
		dec.DisallowUnknownFields()
		switch err := dec.Decode(args); {
		case errors.Is(err, io.EOF): // no body: every parameter takes its default
		case err != nil:
			return fmt.Errorf("the body is not a JSON object of the task's parameters: %v", err)
		case dec.More():
			return errors.New("the body has more than one JSON value: send one object")
		}
		return nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, bodyMax)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("the parameters cannot be read: %v", err)
	}
	f := &form{values: r.Form}
	fromForm(f)
	if f.err != nil {
		return f.err
	}
	for name := range r.Form {
		if !slices.Contains(f.read, name) {
			return fmt.Errorf("unknown parameter %q: use %s", name, strings.Join(f.read, ", "))
		}
	}
	return nil
}

// form reads parameters from a query string or form, and keeps the first
// error and the names read.
type form struct {
	values url.Values
	read   []string
	err    error
}

// str returns the parameter name, "" if it is absent.
func (f *form) str(name string) string {
	f.read = append(f.read, name)
	return f.values.Get(name)
}

// int returns the parameter name as an integer, 0 if it is absent.
func (f *form) int(name string) int64 {
	s := f.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%s %q is not an integer", name, s)
	}
	return n
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": "..."} with code.
func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
