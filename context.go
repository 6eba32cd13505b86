package localtasks

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// taskCtx is the ctx an attempt runs with: its cancellation comes from the
// embedded context, and it answers the package's questions (TaskID,
// Attempt, Logger) without a chain of WithValue lookups.
type taskCtx struct {
	context.Context
	id       string
	task     string
	attempt  int
	deadline time.Time // from the attempt's timeout; zero for none
	base     *slog.Logger
	logger   atomic.Pointer[slog.Logger] // made on first use
}

type taskCtxKey struct{}

func (c *taskCtx) Value(key any) any {
	if key == (taskCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *taskCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && (c.deadline.IsZero() || d.Before(c.deadline)) {
		return d, true
	}
	return c.deadline, !c.deadline.IsZero()
}

func fromContext(ctx context.Context) *taskCtx {
	c, _ := ctx.Value(taskCtxKey{}).(*taskCtx)
	return c
}

// TaskID returns the ID of the task run that ctx belongs to, or "" outside
// a task (Django's context.task_result.id, django-tasks-local's
// current_result_id).
func TaskID(ctx context.Context) string {
	if c := fromContext(ctx); c != nil {
		return c.id
	}
	return ""
}

// TaskName returns the name of the task that ctx belongs to, or "".
func TaskName(ctx context.Context) string {
	if c := fromContext(ctx); c != nil {
		return c.task
	}
	return ""
}

// Attempt returns the number of the attempt that ctx belongs to, counting
// from 1, or 0 outside a task.
func Attempt(ctx context.Context) int {
	if c := fromContext(ctx); c != nil {
		return c.attempt
	}
	return 0
}

// Logger returns the backend's logger with the attributes task, task_id and
// attempt of the attempt that ctx belongs to; outside a task, slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	c := fromContext(ctx)
	if c == nil {
		return slog.Default()
	}
	if l := c.logger.Load(); l != nil {
		return l
	}
	l := c.base.With(slog.String("task", c.task), slog.String("task_id", c.id), slog.Int("attempt", c.attempt))
	c.logger.Store(l)
	return l
}
