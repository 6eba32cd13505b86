package localtasks

import (
	"context"
	"log/slog"

	"github.com/localtasks/localtasks/internal/taskctx"
)

// What a running task reads from its ctx. An attempt's ctx is a
// *taskctx.Ctx (internal/taskctx), on every backend of this package and in
// a process pool's workers; WithTaskInfo (backendkit) attaches one to the
// ctx of a backend outside it.

// Cause returns why ctx was cancelled, like context.Cause, and also for the
// ctx of a task attempt, whose cause context.Cause cannot see: ErrCancelled
// (Cancel), ErrClosed (Close), or an error matching ErrTimeout. For a ctx
// derived from the attempt's, it returns the attempt's cause once the
// attempt's ctx is done; otherwise what context.Cause returns.
func Cause(ctx context.Context) error {
	if c := taskctx.From(ctx); c != nil && ctx.Err() != nil {
		if err, cause := c.Cause(); err != nil {
			if cause != nil {
				return cause
			}
			return err
		}
	}
	return context.Cause(ctx)
}

// SetProgress reports how far the task of ctx has got: done of total units,
// and what it is doing. The latest report is on the run's TaskResult and in
// an EventProgress; on a process pool it travels to the parent. Outside a
// task it does nothing. It is cheap enough to call a few times a second, not
// once a loop iteration of a tight loop.
func SetProgress(ctx context.Context, done, total int64, message string) {
	if c := taskctx.From(ctx); c != nil {
		c.Progress(done, total, message)
	}
}

// TaskID returns the ID of the task run that ctx belongs to, or "" outside
// a task (Django's context.task_result.id, django-tasks-local's
// current_result_id).
func TaskID(ctx context.Context) string {
	if c := taskctx.From(ctx); c != nil {
		return c.ID
	}
	return ""
}

// TaskName returns the name of the task that ctx belongs to, or "".
func TaskName(ctx context.Context) string {
	if c := taskctx.From(ctx); c != nil {
		return c.Task
	}
	return ""
}

// Attempt returns the number of the attempt that ctx belongs to, counting
// from 1, or 0 outside a task.
func Attempt(ctx context.Context) int {
	if c := taskctx.From(ctx); c != nil {
		return c.Number
	}
	return 0
}

// Logger returns the backend's logger with the attributes task, task_id and
// attempt of the attempt that ctx belongs to; outside a task, slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if c := taskctx.From(ctx); c != nil {
		return c.Logger()
	}
	return slog.Default()
}
