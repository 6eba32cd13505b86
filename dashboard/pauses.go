package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/localtasks/localtasks"
)

// This file holds the pause routes: POST api/pauses and api/pauses/resume,
// which hold back and let go the runs of a queue or a task, as the strike
// routes add and lift strikes.

// pauserOf returns c as a localtasks.Pauser if it can pause queues, nil if
// not, and whether it can pause tasks too: a backend may implement the
// interface and still refuse every pause (an ImmediateBackend has no
// queue), or pause queues but not tasks (River's), which its Capabilities
// say (PauseQueues, Pause).
func pauserOf(c localtasks.Backend) (p localtasks.Pauser, tasks bool) {
	caps := c.Capabilities()
	if p, ok := c.(localtasks.Pauser); ok && (caps.Pause || caps.PauseQueues) {
		return p, caps.Pause
	}
	return nil, false
}

// decodePause decodes the body of a pause or resume request: exactly one of
// queue and task.
func decodePause(body []byte) (Pause, error) {
	var p Pause
	if err := decodeJSON(body, &p); err != nil {
		return Pause{}, err
	}
	switch {
	case p.Queue == "" && p.Task == "":
		return Pause{}, badRequest("the pause names neither a queue nor a task: set \"queue\" to a queue's name, or \"task\" to a task's")
	case p.Queue != "" && p.Task != "":
		return Pause{}, badRequest("the pause names a queue and a task: set one of \"queue\" and \"task\"; pause each with a request of its own")
	}
	return p, nil
}

// pause answers POST api/pauses.
func (h *Handler) pause(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	return h.changePause(r.Context(), body, "pause", localtasks.Pauser.Pause)
}

// resume answers POST api/pauses/resume.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request, body []byte) (int, any, error) {
	return h.changePause(r.Context(), body, "resume", localtasks.Pauser.Resume)
}

// changePause applies change to the pause in body on its backend, or on
// every backend that can pause when it names none, and answers with the
// pauses in force. On every backend, it succeeds if it succeeds on one: a
// queue that only some backends have is paused on those.
func (h *Handler) changePause(ctx context.Context, body []byte, verb string,
	change func(localtasks.Pauser, context.Context, localtasks.Pause) error) (int, any, error) {
	p, err := decodePause(body)
	if err != nil {
		return 0, nil, err
	}
	targets, err := h.pauseTargets(p.Backend)
	if err != nil {
		return 0, nil, err
	}
	lp := localtasks.Pause{Queue: p.Queue, Task: p.Task}
	var firstErr error
	done := 0
	for _, b := range targets {
		if err := change(b.pause, ctx, lp); err != nil {
			if firstErr == nil {
				firstErr = pauseError(verb, b, err)
			}
			continue
		}
		done++
	}
	if done == 0 {
		return 0, nil, firstErr
	}
	return http.StatusOK, h.pausesInForce(), nil
}

// pauseTargets returns the backend labelled label, or every backend that
// can pause for "".
func (h *Handler) pauseTargets(label string) ([]backend, error) {
	if label == "" {
		var bs []backend
		for _, b := range h.backends {
			if b.pause != nil {
				bs = append(bs, b)
			}
		}
		if len(bs) == 0 {
			return nil, conflict("no backend here can pause: none is a localtasks.Pauser whose Capabilities have Pause or PauseQueues (the thread and process pools are, and River's backend)")
		}
		return bs, nil
	}
	b, err := h.backendNamed(label)
	if err != nil {
		return nil, err
	}
	if b.pause == nil {
		return nil, conflict("backend %q cannot pause: it is no localtasks.Pauser whose Capabilities have Pause or PauseQueues (the thread and process pools are, and River's backend)", label)
	}
	return []backend{b}, nil
}

// pauseError is the answer to a pause that backend b refused: a bad
// request for a queue it does not have or a task nobody defined, a
// conflict for a backend that is closed or cannot pause that (a task, on
// a backend that pauses only queues), with the backend's message.
func pauseError(verb string, b backend, err error) error {
	switch {
	case errors.Is(err, localtasks.ErrInvalidTask):
		return badRequest("%s on backend %q: %v", verb, b.label, err)
	case errors.Is(err, localtasks.ErrClosed), errors.Is(err, errors.ErrUnsupported):
		return conflict("%s on backend %q: %v", verb, b.label, err)
	}
	return fmt.Errorf("dashboard: %s on backend %q: %w", verb, b.label, err)
}

// pausesInForce lists every backend's pauses.
func (h *Handler) pausesInForce() Pauses {
	out := Pauses{Pauses: []Pause{}}
	for _, b := range h.backends {
		if b.pause != nil {
			out.Pauses = append(out.Pauses, newPauses(b.label, b.pause.Pauses())...)
		}
	}
	return out
}

func newPauses(label string, ps []localtasks.Pause) []Pause {
	out := make([]Pause, len(ps))
	for i, p := range ps {
		out[i] = Pause{Backend: label, Queue: p.Queue, Task: p.Task}
	}
	return out
}

func newQueues(qs []localtasks.QueueInfo) []Queue {
	out := make([]Queue, len(qs))
	for i, q := range qs {
		out[i] = Queue{Name: q.Name, MaxWorkers: q.MaxWorkers, Ready: q.Ready, Scheduled: q.Scheduled, Running: q.Running, Paused: q.Paused}
	}
	return out
}
