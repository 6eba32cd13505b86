package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/localtasks/localtasks"
)

// maxBody bounds the body of an action request.
const maxBody = 1 << 20

// action serves a POST route that changes things: refused with 403 unless
// Config.Actions is on and the request's Host is allowed, and with 415
// unless its body is JSON. (Cross-site requests never get here:
// CrossOriginProtection wraps every route.) f gets the body, at most maxBody
// bytes.
func (h *Handler) action(f func(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error)) http.HandlerFunc {
	return handleJSON(func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		if !h.actions {
			return 0, nil, fail(http.StatusForbidden, CodeActionsDisabled,
				"actions are disabled: this dashboard is read-only; set dashboard.Config.Actions to allow cancel, retry, strike, restore, pause and resume")
		}
		if !h.hosts.allowed(r.Host) {
			return 0, nil, errHostNotAllowed(r.Host)
		}
		if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			return 0, nil, badRequest("reading the request body: %v: send at most %d bytes of JSON", err, maxBody)
		}
		return f(w, r, body)
	})
}

// checkJSON refuses a content type other than application/json.
func checkJSON(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"the request's Content-Type is %q: send a JSON body with Content-Type: application/json", contentType)
	}
	return nil
}

// decodeJSON decodes a whole body into v, refusing unknown fields and
// anything after the value.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed request body: %v: send one JSON object as docs/api.md shows", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed request body: more after the JSON object: send one JSON object")
	}
	return nil
}

// decodeNothing checks the body of a request that takes no arguments:
// empty, or an empty JSON object.
func decodeNothing(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeJSON(body, &struct{}{})
}

// cancel answers POST api/results/{id}/cancel.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	if err := decodeNothing(body); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	b, res, err := h.find(ctx, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	id := res.ID // the path may hold a prefix of it
	if err := b.c.Cancel(ctx, id); err != nil {
		switch {
		case errors.Is(err, localtasks.ErrFinished):
			return 0, nil, conflict("run %s has finished: only a queued, scheduled or running run can be cancelled", id)
		case errors.Is(err, localtasks.ErrResultNotFound):
			return 0, nil, notFound("run %s is gone from backend %q: its result was evicted", id, b.label)
		}
		return 0, nil, fmt.Errorf("dashboard: cancelling run %s on backend %q: %w", id, b.label, err)
	}
	return h.runOn(r, b, id, http.StatusOK)
}

// retry answers POST api/results/{id}/retry: a new run of a finished run's
// task, with its argument, queue and priority, on the same backend.
func (h *Handler) retry(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	if err := decodeNothing(body); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	b, res, err := h.find(ctx, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	id := res.ID // the path may hold a prefix of it
	if !res.Status.Finished() {
		return 0, nil, conflict("run %s is %v: only a finished run can be retried; cancel it first to run it again", id, res.Status)
	}
	def, ok := localtasks.Lookup(res.Task)
	if !ok {
		return 0, nil, conflict("run %s is of task %q, which this program does not define: it cannot be retried here", id, res.Task)
	}
	opts := def.Options()
	opts.Queue, opts.Priority = res.Queue, res.Priority
	rc, err := b.c.Enqueue(ctx, def, res.Args, opts)
	if err != nil {
		if errors.Is(err, localtasks.ErrClosed) || errors.Is(err, localtasks.ErrInvalidTask) {
			return 0, nil, conflict("backend %q refused to retry run %s: %v", b.label, id, err)
		}
		return 0, nil, fmt.Errorf("dashboard: retrying run %s on backend %q: %w", id, b.label, err)
	}
	w.Header().Set("Location", "../"+rc.ID) // from .../api/results/{old}/retry to .../api/results/{new}
	return h.runOn(r, b, rc.ID, http.StatusCreated)
}

// runOn answers with the run id of backend b.
func (h *Handler) runOn(r *http.Request, b backend, id string, status int) (int, any, error) {
	res, err := b.c.GetResult(r.Context(), id)
	if err != nil {
		return 0, nil, fmt.Errorf("dashboard: reading run %s on backend %q after the action: %w", id, b.label, err)
	}
	return status, newTask(b.label, res), nil
}

// decodeStrike decodes the body of a strike request.
func decodeStrike(body []byte) (Strike, error) {
	var st Strike
	if err := decodeJSON(body, &st); err != nil {
		return Strike{}, err
	}
	if st.Task == "" && st.Field == "" {
		return Strike{}, badRequest("the strike names no task and no field: set \"task\" to the name of the task to strike, or \"field\", \"op\" and \"value\" to strike the runs of every task whose argument has that field")
	}
	return st, nil
}

// strike answers POST api/strikes.
func (h *Handler) strike(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	return h.changeStrike(body, "strike", localtasks.Striker.Strike)
}

// restore answers POST api/strikes/restore.
func (h *Handler) restore(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	return h.changeStrike(body, "restore", localtasks.Striker.Restore)
}

// changeStrike applies change to the strike in body on its backend, or on
// every backend when it names none, and answers with the strikes in force.
// On every backend, it succeeds if it succeeds on one: a strike given to
// one backend can be lifted from all.
func (h *Handler) changeStrike(body []byte, verb string, change func(localtasks.Striker, localtasks.Strike) error) (int, any, error) {
	st, err := decodeStrike(body)
	if err != nil {
		return 0, nil, err
	}
	targets, err := h.strikeTargets(st.Backend)
	if err != nil {
		return 0, nil, err
	}
	ls := localtasks.Strike{Task: st.Task, Field: st.Field, Op: localtasks.Operator(st.Op), Value: st.Value, Upper: st.Upper}
	var firstErr error
	done := 0
	for _, b := range targets {
		if err := change(b.strk, ls); err != nil {
			if firstErr == nil {
				firstErr = strikeError(verb, b, err)
			}
			continue
		}
		done++
	}
	if done == 0 {
		return 0, nil, firstErr
	}
	return http.StatusOK, h.strikesInForce(), nil
}

// strikeTargets returns the backend labelled label, or every backend that
// is a Striker for "".
func (h *Handler) strikeTargets(label string) ([]backend, error) {
	if label == "" {
		var bs []backend
		for _, b := range h.backends {
			if b.strk != nil {
				bs = append(bs, b)
			}
		}
		if len(bs) == 0 {
			return nil, conflict("no backend here takes strikes: none is a localtasks.Striker")
		}
		return bs, nil
	}
	for _, b := range h.backends {
		if b.label == label {
			if b.strk == nil {
				return nil, conflict("backend %q does not take strikes: it is no localtasks.Striker", label)
			}
			return []backend{b}, nil
		}
	}
	return nil, badRequest("no backend %q: use the name of one the snapshot lists, or leave \"backend\" out for every backend", label)
}

func strikeError(verb string, b backend, err error) error {
	if errors.Is(err, localtasks.ErrInvalidTask) {
		return badRequest("%s on backend %q: %v", verb, b.label, err)
	}
	return fmt.Errorf("dashboard: %s on backend %q: %w", verb, b.label, err)
}

func (h *Handler) strikesInForce() Strikes {
	out := Strikes{Strikes: []Strike{}}
	for _, b := range h.backends {
		if b.strk != nil {
			out.Strikes = append(out.Strikes, newStrikes(b.label, b.strk.Strikes())...)
		}
	}
	return out
}
