package localtasks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/localtasks/localtasks/internal/taskctx"
)

// Sentinel errors, for errors.Is. The errors the package returns wrap them
// with a message that names the task, the ID or the setting at fault.
var (
	// ErrResultNotFound: no task with that ID is known to the backend. The
	// ID is unknown, malformed, or its finished result was dropped from the
	// result store: evicted (Config.MaxResults, Config.MaxFailedResults),
	// expired (Config.ResultTTL), or discarded as its run finished
	// (WithDiscardResult).
	ErrResultNotFound = errors.New("task result not found")

	// ErrResultMismatch: a typed Task's GetResult was given the ID of
	// another task's run (Django's TaskResultMismatch).
	ErrResultMismatch = errors.New("task result belongs to another task")

	// ErrValueType: Value[R] (or Handle[R].Wait) found a run's value of
	// another type than R: the TaskResult is a run of a task whose result
	// type is not R, or R is an interface the value does not implement. The
	// message names both types. Ask for the task's own result type, or
	// read TaskResult.Value untyped.
	ErrValueType = errors.New("task value of another type")

	// ErrInvalidTask: a task definition or an enqueue request is malformed:
	// an empty or duplicate name, a nil function, a priority out of range,
	// an unknown queue, a negative timeout, arguments of the wrong type.
	ErrInvalidTask = errors.New("invalid task")

	// ErrClosed: the backend was closed; it accepts no more tasks.
	ErrClosed = taskctx.ErrClosed

	// ErrCancelled: the task was cancelled, by Cancel or by Close, before it
	// could finish. Handle.Wait returns an error wrapping it for a
	// CANCELLED task.
	ErrCancelled = taskctx.ErrCancelled

	// ErrTimeout: an attempt ran past its timeout (WithTimeout). The errors
	// that wrap it also match context.DeadlineExceeded.
	ErrTimeout = taskctx.ErrTimeout

	// ErrFinished: Cancel was called on a task that had already finished.
	ErrFinished = errors.New("task already finished")

	// ErrQueueFull: Enqueue found the backend's queue full
	// (Config.MaxQueued) and queued nothing. Retry later, or enqueue with
	// WithWaitForRoom to wait for room.
	ErrQueueFull = errors.New("queue full")

	// ErrMemoryLimit: a process-pool worker died over its memory limit
	// (ProcessPoolConfig.MemoryLimit) while it ran the task.
	ErrMemoryLimit = errors.New("worker over its memory limit")

	// ErrConfig: a backend's configuration is invalid, or conflicts with
	// the configuration an earlier backend of the same Name was built with.
	ErrConfig = errors.New("invalid backend configuration")

	// ErrInvalidSnapshotOptions: a Snapshot's options are not valid: a
	// Limit out of range, a value that is not a Status, or a Cursor that
	// is not a page's NextCursor.
	ErrInvalidSnapshotOptions = errors.New("invalid snapshot options")
)

// WorkerExitError is the error of a task whose worker process died while it
// ran: it exited, crashed, was killed from outside, or was killed by the pool
// (its cancel grace ran out, or it broke the protocol).
type WorkerExitError struct {
	PID           int
	ExitCode      int    // -1 when killed by a signal
	Signal        string // the signal that killed it, if one did
	KilledBecause string // why the pool killed it, if it did
	MemoryLimit   bool   // it ran out of memory under ProcessPoolConfig.MemoryLimit
	Limit         int64
	Stderr        string // the last lines it wrote to stderr
}

// Error says how the worker died, and what it last wrote to stderr.
func (e *WorkerExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "worker process %d died while running the task: ", e.PID)
	switch {
	case e.MemoryLimit:
		fmt.Fprintf(&b, "it exceeded its memory limit of %d bytes (ProcessPoolConfig.MemoryLimit)", e.Limit)
	case e.Signal != "":
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	default:
		fmt.Fprintf(&b, "exited with code %d", e.ExitCode)
	}
	if e.KilledBecause != "" {
		fmt.Fprintf(&b, " (the pool killed it: %s)", e.KilledBecause)
	}
	b.WriteString(e.Stderr)
	return b.String()
}

// Is makes a memory-limit death match ErrMemoryLimit.
func (e *WorkerExitError) Is(target error) bool { return target == ErrMemoryLimit && e.MemoryLimit }
