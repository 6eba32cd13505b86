package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

// serveSnapshot answers GET api/snapshot: a page of each backend's runs.
func (h *Handler) serveSnapshot(w http.ResponseWriter, r *http.Request) (int, any, error) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, nil, err
	}
	bs := h.backends
	if len(q.backends) > 0 {
		bs = make([]backend, 0, len(q.backends))
		for _, label := range q.backends {
			b, err := h.backendNamed(label)
			if err != nil {
				return 0, nil, err
			}
			bs = append(bs, b)
		}
	}
	if q.opts.Cursor != "" && len(bs) > 1 {
		return 0, nil, badRequest("a cursor continues one backend's listing: name that backend with \"backend\" (the one whose next_cursor it is)")
	}
	now := h.now()
	out := Snapshot{At: now, Title: h.title, Actions: h.actions, Backends: make([]BackendSnapshot, len(bs))}
	for i, b := range bs {
		bsnap, err := h.backendSnapshot(r.Context(), b, q.opts, now)
		if err != nil {
			return 0, nil, err
		}
		out.Backends[i] = bsnap
	}
	return http.StatusOK, out, nil
}

func (h *Handler) backendSnapshot(ctx context.Context, b backend, opts localtasks.SnapshotOptions, now time.Time) (BackendSnapshot, error) {
	snap, err := b.snapshot(ctx, opts)
	switch {
	case errors.Is(err, localtasks.ErrInvalidSnapshotOptions):
		return BackendSnapshot{}, badRequest("backend %q: %v", b.label, err)
	case err != nil:
		return BackendSnapshot{}, fmt.Errorf("dashboard: snapshot of backend %q: %w", b.label, err)
	}
	c := snap.Counts
	return BackendSnapshot{
		Name:       b.label,
		Queued:     newTasks(b.label, snap.Queued),
		Scheduled:  newTasks(b.label, snap.Scheduled),
		Running:    newTasks(b.label, snap.Running),
		Finished:   newTasks(b.label, snap.Finished),
		NextCursor: snap.NextCursor,
		Counts: StatusCounts{Scheduled: c.Scheduled, Ready: c.Ready, Running: c.Running,
			Successful: c.Successful, Failed: c.Failed, Cancelled: c.Cancelled},
		Workers:       newWorkers(snap.Workers),
		Counters:      newCounters(snap.Counters),
		Strikes:       newStrikes(b.label, snap.Strikes),
		Throughput:    h.samples.record(h.indexOf(b), now, snap.Counters),
		Pausable:      b.pause != nil,
		PausableTasks: b.pauseTasks,
		Queues:        newQueues(snap.Queues),
		Pauses:        newPauses(b.label, snap.Pauses),
	}, nil
}

// backendNamed returns the backend labelled label.
func (h *Handler) backendNamed(label string) (backend, error) {
	for _, b := range h.backends {
		if b.label == label {
			return b, nil
		}
	}
	return backend{}, badRequest("no backend %q: use the name of one the snapshot lists, or leave \"backend\" out for every backend", label)
}

// indexOf returns b's place in h.backends.
func (h *Handler) indexOf(b backend) int {
	for i := range h.backends {
		if h.backends[i].label == b.label {
			return i
		}
	}
	return -1 // not reached: b is one of h.backends
}

// serveResult answers GET api/results/{id}.
func (h *Handler) serveResult(w http.ResponseWriter, r *http.Request) (int, any, error) {
	b, res, err := h.find(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newDetail(b.label, res), nil
}

// find looks for the run with that ID on every backend, in order; an ID
// that no backend knows may be the first IDPrefixMin or more hex digits of
// one, which every backend that is a localtasks.IDFinder is asked for.
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
	digits, err := localtasks.ParseIDPrefix(id)
	switch {
	case err != nil && strings.Trim(id, "0123456789abcdefABCDEF-") == "" && h.findsIDs():
		// Too short or too long: no backend's whole ID, nor a prefix.
		return backend{}, localtasks.TaskResult{}, badRequest("no run %q on any backend; %v", id, err)
	case err != nil:
		return backend{}, localtasks.TaskResult{}, notFound(
			"no run %q on any backend: it is not an ID; give a run's ID, or its first %d or more hex digits", id, localtasks.IDPrefixMin)
	case len(digits) == 32:
		return backend{}, localtasks.TaskResult{}, notFound(
			"no run %q on any backend: the ID is unknown, or its result was evicted (Config.MaxResults bounds how many finished runs a backend keeps)", id)
	}
	var found []candidate
	for _, b := range h.backends {
		f, ok := b.c.(localtasks.IDFinder)
		if !ok {
			continue
		}
		ids, err := f.FindIDs(ctx, id, candidatesMax+1)
		if err != nil {
			return backend{}, localtasks.TaskResult{}, fmt.Errorf("dashboard: finding the runs whose IDs begin with %q on backend %q: %w", id, b.label, err)
		}
		for _, full := range ids {
			found = append(found, candidate{b, full})
		}
	}
	switch len(found) {
	case 0:
		return backend{}, localtasks.TaskResult{}, notFound(
			"no run's ID begins with %q on any backend: the ID is unknown, or its result was evicted (Config.MaxResults bounds how many finished runs a backend keeps)", id)
	case 1:
		c := found[0]
		res, err := c.b.c.GetResult(ctx, c.id)
		if err != nil {
			if errors.Is(err, localtasks.ErrResultNotFound) {
				return backend{}, localtasks.TaskResult{}, notFound("run %s, the one whose ID begins with %q, is gone from backend %q: its result was evicted", c.id, id, c.b.label)
			}
			return backend{}, localtasks.TaskResult{}, fmt.Errorf("dashboard: looking up run %s on backend %q: %w", c.id, c.b.label, err)
		}
		return c.b, res, nil
	}
	return backend{}, localtasks.TaskResult{}, ambiguous(id, found)
}

// findsIDs reports whether a backend can find runs by an ID prefix.
func (h *Handler) findsIDs() bool {
	for _, b := range h.backends {
		if _, ok := b.c.(localtasks.IDFinder); ok {
			return true
		}
	}
	return false
}

// candidatesMax bounds the runs an ambiguous ID prefix's error lists.
const candidatesMax = 5

// candidate is a run an ID prefix may mean.
type candidate struct {
	b  backend
	id string
}

// ambiguous is the error of an ID prefix that begins several runs' IDs.
func ambiguous(prefix string, found []candidate) error {
	var list strings.Builder
	for i, c := range found[:min(len(found), candidatesMax)] {
		if i > 0 {
			list.WriteString(", ")
		}
		fmt.Fprintf(&list, "%s (backend %s)", c.id, c.b.label)
	}
	if len(found) > candidatesMax {
		list.WriteString(", and more")
	}
	return fail(http.StatusConflict, CodeAmbiguousID,
		"the ID prefix %q begins the IDs of more than one run: %s; give more of the ID", prefix, list.String())
}
