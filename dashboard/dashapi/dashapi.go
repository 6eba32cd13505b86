// Package dashapi holds the JSON of the dashboard's API (docs/api.md): what
// the handler of package dashboard answers with, and what its clients, such
// as the localtasks command, decode. It imports nothing of the task runtime,
// so that a client does not link it.
package dashapi

import (
	"encoding/json"
	"fmt"
	"time"
)

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
	Deadline        *time.Time `json:"deadline"` // WithDeadline's; null for none
	StartedAt       *time.Time `json:"started_at"`
	LastAttemptedAt *time.Time `json:"last_attempted_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	Attempts        int        `json:"attempts"`
	WorkerIDs       []string   `json:"worker_ids"`
	// Args and Value are the Go values as encoding/json renders them; a
	// value it cannot render is a string holding fmt.Sprint of it.
	Args json.RawMessage `json:"args"`
	// ArgsSummary is Args on one line, cut to ArgsSummaryMax characters
	// (the last of them an ellipsis) where it is longer: for a table cell.
	ArgsSummary  string          `json:"args_summary"`
	Value        json.RawMessage `json:"value"`
	Errors       []TaskError     `json:"errors"`
	CancelReason string          `json:"cancel_reason"`
	Progress     *Progress       `json:"progress"`
	// Tags and Metadata are the run's (localtasks.WithTags, WithMetadata,
	// SetMetadata); left out for none.
	Tags     []string          `json:"tags,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Logs are the records the run wrote (localtasks.TaskResult.Logs),
	// oldest first, and LogsDropped counts those left out to keep within
	// its backend's Config.RunLogs. Only the response of GET
	// api/results/{id} carries them: they are left out of listings,
	// events and actions' responses, and for none.
	Logs        []LogRecord `json:"logs,omitempty"`
	LogsDropped int         `json:"logs_dropped,omitempty"`
	// LogCount counts the records the run wrote that its backend took in:
	// those of Logs and those dropped. Every response carries it (left
	// out for 0), so that a client showing the logs can tell when to
	// load them again.
	LogCount int `json:"log_count,omitempty"`
}

// LogRecord is one record a run wrote: through localtasks.Logger(ctx), or,
// on a process pool, a line it printed to its stdout or stderr; see
// localtasks.LogRecord. Its text is the task's: escape it wherever it is
// shown.
type LogRecord struct {
	Attempt int       `json:"attempt"` // from 1
	At      time.Time `json:"at"`
	// Level is log/slog's name of the record's level: "DEBUG", "INFO",
	// "WARN", "ERROR", or one of them with an offset, as "INFO+2"; "INFO"
	// for a printed line.
	Level string `json:"level"`
	// Stream is "log" for a record written through Logger(ctx), "stdout"
	// or "stderr" for a printed line.
	Stream  string `json:"stream"`
	Message string `json:"message"`
	// Attrs are the record's attributes in their order, groups flattened
	// into dotted keys and values printed; [] for none.
	Attrs []LogAttr `json:"attrs"`
	// Cut says Message was cut to a quarter of Config.RunLogs.MaxBytes.
	Cut bool `json:"cut,omitempty"`
}

// LogAttr is an attribute of a LogRecord.
type LogAttr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ArgsSummaryMax is the most characters (runes) of Task.ArgsSummary.
const ArgsSummaryMax = 80

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
	// Starting says the worker process of this slot is being replaced;
	// PID is 0 meanwhile.
	Starting bool `json:"starting,omitempty"`
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
	QueueFull   uint64 `json:"queue_full"`
	// The journal's commits, rows written and failed commits, on a backend
	// with one (localtasks.Config.Journal).
	JournalCommits  uint64 `json:"journal_commits,omitempty"`
	JournalRows     uint64 `json:"journal_rows,omitempty"`
	JournalFailures uint64 `json:"journal_failures,omitempty"`
	// WorkerRestarts counts the worker processes started to replace one
	// that died or retired (localtasks.Counters.WorkerRestarts); left out
	// while none was.
	WorkerRestarts uint64 `json:"worker_restarts,omitempty"`
}

// StatusCounts counts a backend's runs by status; see
// localtasks.StatusCounts.
type StatusCounts struct {
	Scheduled  int `json:"scheduled"`
	Ready      int `json:"ready"`
	Running    int `json:"running"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
}

// Strike is a localtasks.Strike on a backend, in the requests and the
// responses of the strike routes and in snapshots. In a request, an empty
// Backend means every backend. A number Value or Upper arrives as a
// float64, which the strike converts to the field's type when it fits
// exactly (2.0 to an int field, not 2.5).
type Strike struct {
	Backend string `json:"backend,omitempty"`
	Task    string `json:"task"`
	Field   string `json:"field,omitempty"`
	Op      string `json:"op,omitempty"` // a localtasks.Operator
	Value   any    `json:"value,omitempty"`
	Upper   any    `json:"upper,omitempty"`
}

// Strikes is the response of the strike routes: every strike in force.
type Strikes struct {
	Strikes []Strike `json:"strikes"`
}

// Queue is one queue of a backend, in a BackendSnapshot; see
// localtasks.QueueInfo.
type Queue struct {
	Name string `json:"name"`
	// MaxWorkers is the most workers its runs take at once
	// (localtasks.Config.QueueWorkers); 0 for no bound of its own: every
	// worker of the backend.
	MaxWorkers int `json:"max_workers"`
	// Ready and Scheduled are its depth: its runs waiting to start now, and
	// those waiting for a time (localtasks.QueueInfo).
	Ready     int  `json:"ready"`
	Scheduled int  `json:"scheduled"`
	Running   int  `json:"running"` // its runs running now
	Paused    bool `json:"paused"`
}

// Pause is a localtasks.Pause on a backend: a queue, or a task on every
// queue, whose runs are held back. It is in the requests and the responses
// of the pause routes and in snapshots. Exactly one of Queue and Task is
// set. In a request, an empty Backend means every backend that can pause.
type Pause struct {
	Backend string `json:"backend,omitempty"`
	Queue   string `json:"queue,omitempty"`
	Task    string `json:"task,omitempty"`
}

// Pauses is the response of the pause routes: every pause in force.
type Pauses struct {
	Pauses []Pause `json:"pauses"`
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
// one page of the runs the request's query selects (see
// localtasks.SnapshotOptions), and never null.
type BackendSnapshot struct {
	Name      string `json:"name"`
	Queued    []Task `json:"queued"`
	Scheduled []Task `json:"scheduled"`
	Running   []Task `json:"running"`
	Finished  []Task `json:"finished"`
	// NextCursor, when not empty, asks for the next page: give it as
	// cursor, with the same query and this backend's name as backend.
	NextCursor string `json:"next_cursor"`
	// Counts counts all the backend's runs by status, whatever the query.
	Counts     StatusCounts `json:"counts"`
	Workers    []Worker     `json:"workers"`
	Counters   Counters     `json:"counters"`
	Strikes    []Strike     `json:"strikes"`
	Throughput []Point      `json:"throughput"`
	// Pausable says its queues can be paused: it is a localtasks.Pauser
	// whose Capabilities have Pause or PauseQueues.
	Pausable bool `json:"pausable"`
	// PausableTasks says its tasks can be paused too: its Capabilities
	// have Pause.
	PausableTasks bool `json:"pausable_tasks"`
	// Queues describes its queues, in the order of its Config.Queues;
	// empty for a backend that does not describe them.
	Queues []Queue `json:"queues"`
	// Pauses lists what is paused on it, queues first.
	Pauses []Pause `json:"pauses"`
}

// The values of Health.Status.
const (
	HealthOK        = "ok"
	HealthUnhealthy = "unhealthy"
)

// Health is the response of GET api/health: Status is HealthOK, with 200,
// when every backend is healthy (each BackendHealth's OK), and
// HealthUnhealthy, with 503, otherwise.
type Health struct {
	Status   string          `json:"status"`
	At       time.Time       `json:"at"`
	Backends []BackendHealth `json:"backends"`
}

// BackendHealth is one backend's part of Health. A backend is healthy
// (OK) when its snapshot could be taken, it is not closed, and, if it has
// workers, at least one of them is alive; Problems then is empty, and
// otherwise says what is wrong, one sentence each.
type BackendHealth struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Closed bool   `json:"closed"`
	// Workers counts the backend's workers (a process pool's slots);
	// WorkersAlive, those that can take a run: a process-pool slot
	// whose worker is being replaced is not alive. A backend that runs
	// nothing here (a River backend of Workers 0) has none, and is not
	// unhealthy for it.
	Workers      int `json:"workers"`
	WorkersAlive int `json:"workers_alive"`
	// Queued, Scheduled and Running count its READY, SCHEDULED and
	// RUNNING runs; Queued is the queue depth.
	Queued    int `json:"queued"`
	Scheduled int `json:"scheduled"`
	Running   int `json:"running"`
	// WorkerRestarts counts the worker processes started to replace one
	// that died or retired (localtasks.Counters.WorkerRestarts);
	// LastWorkerRestart is when the last one was, null if none.
	WorkerRestarts    uint64     `json:"worker_restarts"`
	LastWorkerRestart *time.Time `json:"last_worker_restart"`
	Problems          []string   `json:"problems"`
}

// TaskEvent is the data of an event named "task" on the event stream.
type TaskEvent struct {
	Kind string `json:"kind"` // enqueued, started, progress, metadata or finished
	Task Task   `json:"task"`
}

// Dropped is the data of an event named "dropped" on the event stream: at
// least Events task events were left out since the last ("task" events
// are coalesced, and capped per flush), or lost because the stream was read
// too late. Load a snapshot to catch up.
type Dropped struct {
	Events uint64 `json:"events"`
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

// The codes of the API's errors, in Error.Code.
const (
	// CodeBadRequest (400): malformed JSON, an unknown field, a bad
	// strike, a bad pause (an unknown queue or task), a bad query, an
	// unknown backend, an ID prefix of fewer than 8 hex digits.
	CodeBadRequest = "bad_request"
	// CodeActionsDisabled (403): an action while Config.Actions is off.
	CodeActionsDisabled = "actions_disabled"
	// CodeCrossOrigin (403): a POST from another site.
	CodeCrossOrigin = "cross_origin"
	// CodeHostNotAllowed (403): an action for a Host that is not a
	// loopback name, an IP address or in Config.AllowedHosts.
	CodeHostNotAllowed = "host_not_allowed"
	// CodeNotFound (404): an unknown or evicted ID, an ID prefix that
	// begins no run's ID, an unknown path.
	CodeNotFound = "not_found"
	// CodeAmbiguousID (409): an ID prefix that begins the IDs of more
	// than one run; the message lists some of them.
	CodeAmbiguousID = "ambiguous_id"
	// CodeMethodNotAllowed (405): a method the route does not take.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeConflict (409): cancel of a finished run, retry of an
	// unfinished one, or of one its backend can no longer take; a strike
	// or a pause on a backend that cannot take it, or is closed.
	CodeConflict = "conflict"
	// CodeUnsupportedMediaType (415): a POST that is not application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeUnavailable (503): more event streams than Config.MaxStreams
	// allows are open; try again later.
	CodeUnavailable = "unavailable"
	// CodeInternal (500): a backend failed in a way none of the others
	// describe; the message says how.
	CodeInternal = "internal"
)

// Error is the body of every error the API answers with.
type Error struct {
	// Message says what went wrong, and what to do.
	Message string `json:"error"`
	// Code is one of the Code constants.
	Code string `json:"code"`
}

// Error returns the message and the code.
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// failure is an error with the status and code to answer it with.
type failure struct {
	status int
	code   string
	msg    string
}
