package localtasks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors, for errors.Is. The errors the package returns wrap them
// with a message that names the task, the ID or the setting at fault.
var (
	// ErrResultNotFound: no task with that ID is known to the backend. The
	// ID is unknown, malformed, or its finished result was evicted from the
	// result store (see Config.MaxResults).
	ErrResultNotFound = errors.New("task result not found")

	// ErrResultMismatch: a typed Task's GetResult was given the ID of
	// another task's run (Django's TaskResultMismatch).
	ErrResultMismatch = errors.New("task result belongs to another task")

	// ErrInvalidTask: a task definition or an enqueue request is malformed:
	// an empty or duplicate name, a nil function, a priority out of range,
	// an unknown queue, a negative timeout, arguments of the wrong type.
	ErrInvalidTask = errors.New("invalid task")

	// ErrClosed: the backend was closed; it accepts no more tasks.
	ErrClosed = errors.New("backend closed")

	// ErrCancelled: the task was cancelled, by Cancel or by Close, before it
	// could finish. Handle.Wait returns an error wrapping it for a
	// CANCELLED task.
	ErrCancelled = errors.New("task cancelled")

	// ErrTimeout: an attempt ran past its timeout (WithTimeout). The errors
	// that wrap it also match context.DeadlineExceeded.
	ErrTimeout = errors.New("task timed out")

	// ErrFinished: Cancel was called on a task that had already finished.
	ErrFinished = errors.New("task already finished")

	// ErrMemoryLimit: a process-pool worker died over its memory limit
	// (ProcessPoolConfig.MemoryLimit) while it ran the task.
	ErrMemoryLimit = errors.New("worker over its memory limit")

	// ErrConfig: a backend's configuration is invalid, or conflicts with
	// the configuration an earlier backend of the same Name was built with.
	ErrConfig = errors.New("invalid backend configuration")
)

// timeoutError is the error of an attempt that ran past its timeout. It
// matches ErrTimeout and context.DeadlineExceeded, and unwraps to what the
// task itself returned, if anything.
type timeoutError struct {
	after    time.Duration
	returned error
}

func (e *timeoutError) Error() string {
	if e.returned == nil {
		return fmt.Sprintf("timed out after %v", e.after)
	}
	return fmt.Sprintf("timed out after %v: %v", e.after, e.returned)
}

func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func (e *timeoutError) Unwrap() error { return e.returned }
