package dashboard

import (
	"fmt"
	"net/http"

	"github.com/localtasks/localtasks"
)

// healthOptions asks a backend's Snapshot for as little as it lists: one
// RUNNING run at most, whose group is bounded by the workers, never by
// the backlog (Snapshot cannot list none).
var healthOptions = localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}, Limit: 1}

// serveHealth answers GET api/health: each backend's health, with 200 if
// every one is healthy and 503 otherwise, for load balancers and probes.
// It costs one small Snapshot per backend.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) (int, any, error) {
	out := Health{Status: HealthOK, At: h.now(), Backends: make([]BackendHealth, len(h.backends))}
	for i, b := range h.backends {
		bh := backendHealth(r, b)
		if !bh.OK {
			out.Status = HealthUnhealthy
		}
		out.Backends[i] = bh
	}
	if out.Status != HealthOK {
		return http.StatusServiceUnavailable, out, nil
	}
	return http.StatusOK, out, nil
}

// backendHealth checks one backend; see BackendHealth.
func backendHealth(r *http.Request, b backend) BackendHealth {
	bh := BackendHealth{Name: b.label, Problems: []string{}}
	snap, err := b.snapshot(r.Context(), healthOptions)
	if err != nil {
		bh.Problems = append(bh.Problems, fmt.Sprintf("its snapshot failed: %v", err))
		return bh
	}
	c := snap.Counts
	bh.Closed, bh.Queued, bh.Scheduled, bh.Running = snap.Closed, c.Ready, c.Scheduled, c.Running
	bh.WorkerRestarts, bh.LastWorkerRestart = snap.Counters.WorkerRestarts, timeOrNil(snap.LastWorkerRestart)
	bh.Workers = len(snap.Workers)
	for _, wk := range snap.Workers {
		if !wk.Starting {
			bh.WorkersAlive++
		}
	}
	if snap.Closed {
		bh.Problems = append(bh.Problems, "the backend is closed: it accepts no more runs")
	}
	if bh.Workers > 0 && bh.WorkersAlive == 0 && !snap.Closed {
		bh.Problems = append(bh.Problems, fmt.Sprintf(
			"no worker is alive: all %d are being started again (the log says why a worker process fails to start)", bh.Workers))
	}
	bh.OK = len(bh.Problems) == 0
	return bh
}
