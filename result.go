package localtasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/localtasks/localtasks/internal/failure"
)

// Status is where a task is in its life. A task moves
//
//	SCHEDULED → READY → RUNNING → SUCCESSFUL | FAILED | CANCELLED
//
// and back from RUNNING to SCHEDULED or READY when a failed attempt is
// retried. SUCCESSFUL, FAILED and CANCELLED are final.
type Status uint8

// The statuses. The zero Status is not one of them; it prints as UNKNOWN.
const (
	// StatusScheduled: waiting for its run-after time or for a retry delay.
	StatusScheduled Status = iota + 1
	// StatusReady: queued, waiting for a free worker.
	StatusReady
	// StatusRunning: a worker has started an attempt.
	StatusRunning
	// StatusSuccessful: an attempt returned a value and no error.
	StatusSuccessful
	// StatusFailed: the last attempt allowed failed.
	StatusFailed
	// StatusCancelled: cancelled by Cancel or Close before it finished.
	StatusCancelled
)

var statusNames = [...]string{"UNKNOWN", "SCHEDULED", "READY", "RUNNING", "SUCCESSFUL", "FAILED", "CANCELLED"}

// String returns the status's name in capitals, as Django spells it.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Finished reports whether s is final: SUCCESSFUL, FAILED or CANCELLED.
func (s Status) Finished() bool {
	return s == StatusSuccessful || s == StatusFailed || s == StatusCancelled
}

// MarshalText encodes the status as its name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a status name, in any case.
func (s *Status) UnmarshalText(b []byte) error {
	name := strings.ToUpper(string(b))
	for i, n := range statusNames[1:] {
		if n == name {
			*s = Status(i + 1)
			return nil
		}
	}
	return fmt.Errorf("localtasks: unknown task status %q: use one of %s", b, strings.Join(statusNames[1:], ", "))
}

// TaskResult is a snapshot of one task run, taken when it was asked for.
// Changing it changes nothing inside the backend; ask again for news.
//
// Its slices and maps are its own: Tags, Metadata, Errors and WorkerIDs
// are copies. Args and Value are the values the task was given and
// returned, shared, not copied: do not mutate what they point to.
type TaskResult struct {
	// ID is the run's UUID, made at enqueue.
	ID string
	// Task is the name the task was defined under.
	Task string
	// Backend is the name of the backend that took the task.
	Backend string
	// Queue and Priority are the ones the task was enqueued with.
	Queue    string
	Priority int
	// Status is where the run is in its life.
	Status Status

	// EnqueuedAt is when Enqueue accepted the task.
	EnqueuedAt time.Time
	// RunAfter is the earliest time the task may start; zero for at once.
	RunAfter time.Time
	// Deadline is the latest time the run may start (WithDeadline,
	// WithStartWithin); zero for none.
	Deadline time.Time
	// StartedAt is when the first attempt started; zero before that.
	StartedAt time.Time
	// LastAttemptedAt is when the latest attempt started; zero before the first.
	LastAttemptedAt time.Time
	// FinishedAt is when the run reached its final status; zero before that.
	FinishedAt time.Time

	// Attempts counts the attempts started so far.
	Attempts int
	// WorkerIDs names the worker of each attempt, in order.
	WorkerIDs []string

	// Args is the argument the task was enqueued with.
	Args any
	// Value is what the task returned; nil unless Status is SUCCESSFUL.
	Value any
	// Errors holds one entry per failed attempt, oldest first.
	Errors []TaskError
	// CancelReason says why a CANCELLED run was cancelled.
	CancelReason string
	// Key is the run's key (WithKey), or a perpetual task's name; "" for
	// none.
	Key string
	// Progress is the latest progress the run reported (SetProgress);
	// zero if it reported none.
	Progress Progress
	// Tags are the run's tags (WithTags); nil for none.
	Tags []string
	// Metadata holds the run's key-value pairs, from WithMetadata and
	// SetMetadata; nil for none.
	Metadata map[string]string
	// Logs are the records the run's attempts wrote through Logger(ctx)
	// and, on a process pool, the lines they printed to stdout and
	// stderr, oldest first, as Config.RunLogs bounds them; nil for none.
	// They are shared, not copied: do not modify them.
	Logs []LogRecord
	// LogsDropped counts the records left out of Logs to keep within
	// Config.RunLogs.
	LogsDropped int
}

// Progress is how far a run says it has got: Done of Total units, and what
// it is doing. At is when it said so, by the backend's clock.
type Progress struct {
	Done, Total int64
	Message     string
	At          time.Time
}

// TaskError describes one failed attempt. It is an error itself: the one
// Handle.Wait returns for a FAILED task is the last attempt's.
type TaskError struct {
	// Attempt is the number of the attempt that failed, from 1.
	Attempt int
	// At is when the attempt ended.
	At time.Time
	// Type is the Go type of the error, or of the value the task panicked
	// with, such as "*fs.PathError".
	Type string
	// Message is the error's text, or the panic value printed.
	Message string
	// Stack is the goroutine's stack where the task panicked; empty when
	// it returned an error.
	Stack string

	err error // the original error, where the attempt ran in this process
}

// Error returns the message, marked as a panic where it was one.
func (e *TaskError) Error() string {
	if e.Stack != "" {
		return "panic: " + e.Message
	}
	return e.Message
}

// Unwrap returns the error the task returned, where the attempt ran in this
// process, so that errors.Is and errors.As see through a TaskError.
func (e *TaskError) Unwrap() error { return e.err }

// taskError converts what ended an attempt badly, an error or a recovered
// panic (or a worker's report of either), to its TaskError: the one
// converter, whether the attempt ran here or in a worker process.
func taskError(attempt int, at time.Time, err error) TaskError {
	r := failure.Describe(err)
	return TaskError{Attempt: attempt, At: at, Type: r.Type, Message: r.Message, Stack: r.Stack, err: r.Err}
}
