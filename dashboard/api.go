package dashboard

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// The JSON the API answers with. docs/api.md shows each shape; the types are
// exported so that Go clients, such as the localtasks CLI, can decode it.

// Task is one run: a localtasks.TaskResult as JSON. Unset times are null,
// Errors and WorkerIDs are empty rather than null, and Progress is nil until
// the run reports some.
type Task struct {
	ID              string     `json:"id"`
	Task            string     `json:"task"`
	Backend         string     `json:"backend"` // the backend's label
	Queue           string     `json:"queue"`
	Priority        int        `json:"priority"`
	Status          string     `json:"status"` // a localtasks.Status name, such as "RUNNING"
	Key             string     `json:"key"`
	EnqueuedAt      *time.Time `json:"enqueued_at"`
	RunAfter        *time.Time `json:"run_after"`
	StartedAt       *time.Time `json:"started_at"`
	LastAttemptedAt *time.Time `json:"last_attempted_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	Attempts        int        `json:"attempts"`
	WorkerIDs       []string   `json:"worker_ids"`
	// Args and Value are the Go values as encoding/json renders them; a
	// value it cannot render is a string holding fmt.Sprint of it.
	Args         json.RawMessage `json:"args"`
	Value        json.RawMessage `json:"value"`
	Errors       []TaskError     `json:"errors"`
	CancelReason string          `json:"cancel_reason"`
	Progress     *Progress       `json:"progress"`
}

// TaskError is one failed attempt of a run.
type TaskError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
	Stack   string    `json:"stack"` // set where the task panicked
}

// Progress is the latest progress a run reported.
type Progress struct {
	Done    int64     `json:"done"`
	Total   int64     `json:"total"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Worker is one worker of a backend: a goroutine (PID 0) or a process.
type Worker struct {
	ID          string   `json:"id"`
	PID         int      `json:"pid"`
	Running     []string `json:"running"` // the IDs of the runs it runs
	TasksDone   int      `json:"tasks_done"`
	MemoryBytes int64    `json:"memory_bytes"`
}

// Counters count what happened to a backend's runs since it started; see
// localtasks.Counters.
type Counters struct {
	Enqueued    uint64 `json:"enqueued"`
	Started     uint64 `json:"started"`
	Succeeded   uint64 `json:"succeeded"`
	Failed      uint64 `json:"failed"`
	Retried     uint64 `json:"retried"`
	Cancelled   uint64 `json:"cancelled"`
	Struck      uint64 `json:"struck"`
	Perpetuated uint64 `json:"perpetuated"`
}

// Strike is a localtasks.Strike on a backend, in the requests and the
// responses of the strike routes and in snapshots. In a request, an empty
// Backend means every backend. A number Value or Upper arrives as a
// float64, which the strike converts to the field's type when it fits
// exactly (2.0 to an int field, not 2.5).
type Strike struct {
	Backend string              `json:"backend,omitempty"`
	Task    string              `json:"task"`
	Field   string              `json:"field,omitempty"`
	Op      localtasks.Operator `json:"op,omitempty"`
	Value   any                 `json:"value,omitempty"`
	Upper   any                 `json:"upper,omitempty"`
}

// Strikes is the response of the strike routes: every strike in force.
type Strikes struct {
	Strikes []Strike `json:"strikes"`
}

// Point is one throughput sample: the rate of finished runs per second
// since the previous sample.
type Point struct {
	At        time.Time `json:"at"`
	PerSecond float64   `json:"per_second"`
}

// Snapshot is the response of GET api/snapshot.
type Snapshot struct {
	At       time.Time         `json:"at"`
	Title    string            `json:"title"`
	Actions  bool              `json:"actions"`
	Backends []BackendSnapshot `json:"backends"`
}

// BackendSnapshot describes one backend in a Snapshot. The task lists are
// filtered by the request's query, and never null.
type BackendSnapshot struct {
	Name       string   `json:"name"`
	Queued     []Task   `json:"queued"`
	Scheduled  []Task   `json:"scheduled"`
	Running    []Task   `json:"running"`
	Finished   []Task   `json:"finished"`
	Workers    []Worker `json:"workers"`
	Counters   Counters `json:"counters"`
	Strikes    []Strike `json:"strikes"`
	Throughput []Point  `json:"throughput"`
}

// TaskEvent is the data of an event named "task" on the event stream.
type TaskEvent struct {
	Kind string `json:"kind"` // enqueued, started, progress or finished
	Task Task   `json:"task"`
}

// Stats is the data of an event named "stats" on the event stream.
type Stats struct {
	At       time.Time      `json:"at"`
	Backends []BackendStats `json:"backends"`
}

// BackendStats is one backend's part of Stats.
type BackendStats struct {
	Name       string   `json:"name"`
	Counters   Counters `json:"counters"`
	Throughput []Point  `json:"throughput"`
}

// newTask converts a run of the backend labelled label.
func newTask(label string, res localtasks.TaskResult) Task {
	t := Task{
		ID: res.ID, Task: res.Task, Backend: label, Queue: res.Queue, Priority: res.Priority,
		Status: res.Status.String(), Key: res.Key,
		EnqueuedAt: timeOrNil(res.EnqueuedAt), RunAfter: timeOrNil(res.RunAfter),
		StartedAt: timeOrNil(res.StartedAt), LastAttemptedAt: timeOrNil(res.LastAttemptedAt),
		FinishedAt: timeOrNil(res.FinishedAt),
		Attempts:   res.Attempts, WorkerIDs: nonNil(res.WorkerIDs),
		Args: renderValue(res.Args), Value: renderValue(res.Value),
		Errors: make([]TaskError, len(res.Errors)), CancelReason: res.CancelReason,
	}
	for i, e := range res.Errors {
		t.Errors[i] = TaskError{Attempt: e.Attempt, At: e.At, Type: e.Type, Message: e.Message, Stack: e.Stack}
	}
	if p := res.Progress; p.Done != 0 || p.Total != 0 || p.Message != "" || !p.At.IsZero() {
		t.Progress = &Progress{Done: p.Done, Total: p.Total, Message: p.Message, At: p.At}
	}
	return t
}

func newTasks(label string, rs []localtasks.TaskResult, keep func(localtasks.TaskResult) bool) []Task {
	ts := []Task{}
	for _, res := range rs {
		if keep(res) {
			ts = append(ts, newTask(label, res))
		}
	}
	return ts
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// renderValue renders v as encoding/json does, or, where it cannot (a
// channel, a NaN, a MarshalJSON that fails or panics), as a JSON string of
// fmt.Sprint(v).
func renderValue(v any) (out json.RawMessage) {
	defer func() {
		if recover() != nil {
			out = sprintJSON(v)
		}
	}()
	b, err := json.Marshal(v)
	if err != nil {
		return sprintJSON(v)
	}
	return b
}

func sprintJSON(v any) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprint(v)) // a string always marshals
	return b
}

func newWorkers(ws []localtasks.WorkerInfo) []Worker {
	out := make([]Worker, len(ws))
	for i, w := range ws {
		out[i] = Worker{ID: w.ID, PID: w.PID, Running: nonNil(w.Running), TasksDone: w.TasksDone, MemoryBytes: w.MemoryBytes}
	}
	return out
}

func newCounters(c localtasks.Counters) Counters {
	return Counters{Enqueued: c.Enqueued, Started: c.Started, Succeeded: c.Succeeded, Failed: c.Failed,
		Retried: c.Retried, Cancelled: c.Cancelled, Struck: c.Struck, Perpetuated: c.Perpetuated}
}

func newStrikes(label string, sts []localtasks.Strike) []Strike {
	out := make([]Strike, len(sts))
	for i, st := range sts {
		out[i] = Strike{Backend: label, Task: st.Task, Field: st.Field, Op: st.Op, Value: strikeValue(st.Value), Upper: strikeValue(st.Upper)}
	}
	return out
}

// strikeValue renders a strike's value so that a response holding it
// always marshals, whatever Go code gave the strike (a NaN, say).
func strikeValue(v any) any {
	if v == nil {
		return nil
	}
	return renderValue(v)
}
