package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/localtasks/localtasks"
)

// serveSnapshot answers GET api/snapshot.
func (h *Handler) serveSnapshot(w http.ResponseWriter, r *http.Request) (int, any, error) {
	f, err := parseFilter(r.URL.RawQuery)
	if err != nil {
		return 0, nil, err
	}
	now := h.now()
	out := Snapshot{At: now, Title: h.title, Actions: h.actions, Backends: make([]BackendSnapshot, len(h.backends))}
	for i, b := range h.backends {
		out.Backends[i] = h.backendSnapshot(i, b, f, now)
	}
	return http.StatusOK, out, nil
}

func (h *Handler) backendSnapshot(i int, b backend, f filter, now time.Time) BackendSnapshot {
	snap := b.snapshot()
	return BackendSnapshot{
		Name:       b.label,
		Queued:     newTasks(b.label, snap.Queued, f.keep),
		Scheduled:  newTasks(b.label, snap.Scheduled, f.keep),
		Running:    newTasks(b.label, snap.Running, f.keep),
		Finished:   newTasks(b.label, snap.Finished, f.keep),
		Workers:    newWorkers(snap.Workers),
		Counters:   newCounters(snap.Counters),
		Strikes:    newStrikes(b.label, snap.Strikes),
		Throughput: h.samples.record(i, now, snap.Counters),
	}
}

// serveResult answers GET api/results/{id}.
func (h *Handler) serveResult(w http.ResponseWriter, r *http.Request) (int, any, error) {
	b, res, err := h.find(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newTask(b.label, res), nil
}

// find looks for the run with that ID on every backend, in order.
func (h *Handler) find(ctx context.Context, id string) (backend, localtasks.TaskResult, error) {
	for _, b := range h.backends {
		res, err := b.c.GetResult(ctx, id)
		switch {
		case err == nil:
			return b, res, nil
		case !errors.Is(err, localtasks.ErrResultNotFound):
			return backend{}, localtasks.TaskResult{}, fmt.Errorf("dashboard: looking up run %s on backend %q: %w", id, b.label, err)
		}
	}
	return backend{}, localtasks.TaskResult{}, notFound(
		"no run %q on any backend: the ID is unknown, or its result was evicted (Config.MaxResults bounds how many finished runs a backend keeps)", id)
}
