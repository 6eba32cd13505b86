package localtasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// logArgs says what a run of logTask writes: Lines records through
// Logger(ctx), each of Size bytes of message, on every attempt, which fails
// until attempt Succeed.
type logArgs struct {
	Lines, Size, Succeed int
}

var logTask = localtasks.Define("runlog.task", func(ctx context.Context, a logArgs) (int, error) {
	n := localtasks.Attempt(ctx)
	l := localtasks.Logger(ctx)
	for i := range a.Lines {
		msg := fmt.Sprintf("a%d r%d", n, i)
		if a.Size > len(msg) {
			msg += strings.Repeat("x", a.Size-len(msg))
		}
		l.Info(msg)
	}
	if n < a.Succeed {
		return 0, errors.New("not yet")
	}
	return n, nil
})

// messages lists the messages of logs, each prefixed by its attempt.
func messages(logs []localtasks.LogRecord) []string {
	var out []string
	for _, r := range logs {
		out = append(out, fmt.Sprintf("%d:%s", r.Attempt, r.Message[:min(len(r.Message), 6)]))
	}
	return out
}

var attrsTask = localtasks.Define("runlog.attrs", func(ctx context.Context, _ int) (int, error) {
	l := localtasks.Logger(ctx).With("order", 42)
	l.Debug("not kept at the default level")
	l.WithGroup("card").Info("charging", "cents", 1999, slog.Group("by", "name", "ann"))
	l.Warn("slow", "took", "2s")
	return 0, nil
})

// A run's Logger(ctx) records are on its TaskResult, with their own
// attributes, groups flattened, but not the ones Logger(ctx) adds, and
// still reach the backend's logger with those.
func TestRunLogsThreadPool(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var out bytes.Buffer
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}, MaxWorkers: 1})
	h, err := attrsTask.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)

	require.Len(t, res.Logs, 2, "the debug record is below RunLogs.Level")
	r := res.Logs[0]
	require.Equal(t, 1, r.Attempt)
	require.Equal(t, "log", r.Stream)
	require.Equal(t, slog.LevelInfo, r.Level)
	require.Equal(t, "charging", r.Message)
	require.False(t, r.Time.IsZero())
	require.Equal(t, []localtasks.LogAttr{{Key: "order", Value: "42"}, {Key: "card.cents", Value: "1999"}, {Key: "card.by.name", Value: "ann"}}, r.Attrs)
	require.Equal(t, slog.LevelWarn, res.Logs[1].Level)
	require.Equal(t, []localtasks.LogAttr{{Key: "order", Value: "42"}, {Key: "took", Value: "2s"}}, res.Logs[1].Attrs)
	require.Zero(t, res.LogsDropped)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, "the backend's logger has every record, the debug one too")
	var rec struct {
		TaskID string `json:"task_id"`
		Card   struct{ Cents int }
	}
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	require.Equal(t, h.ID(), rec.TaskID)
	require.Equal(t, 1999, rec.Card.Cents)
}

// Each attempt's records are kept, numbered; a run's bounds count all its
// attempts, and when they are full the earlier attempts' records make room
// for the latest's, whose first records are kept.
func TestRunLogsBoundsAcrossAttempts(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{RunLogs: localtasks.RunLogs{MaxRecords: 4}}, MaxWorkers: 1})
	retry := localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 3})

	h, err := logTask.Using(retry).Enqueue(ctx, b, logArgs{Lines: 1, Succeed: 3})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"1:a1 r0", "2:a2 r0", "3:a3 r0"}, messages(res.Logs))

	h, err = logTask.Using(retry).Enqueue(ctx, b, logArgs{Lines: 3, Succeed: 3})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err = h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"2:a2 r2", "3:a3 r0", "3:a3 r1", "3:a3 r2"}, messages(res.Logs),
		"attempt 3's records push out the oldest of the earlier attempts'")
	require.Equal(t, 5, res.LogsDropped)

	h, err = logTask.Enqueue(ctx, b, logArgs{Lines: 6, Succeed: 1})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err = h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"1:a1 r0", "1:a1 r1", "1:a1 r2", "1:a1 r3"}, messages(res.Logs), "within an attempt the first are kept")
	require.Equal(t, 2, res.LogsDropped)
}

// MaxBytes bounds the bytes a run keeps, and cuts a message longer than a
// quarter of it, marked.
func TestRunLogsBytes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{RunLogs: localtasks.RunLogs{MaxBytes: 4000}}, MaxWorkers: 1})

	h, err := logTask.Enqueue(ctx, b, logArgs{Lines: 10, Size: 900, Succeed: 1})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Len(t, res.Logs, 4, "4 of 900 bytes fit in 4000")
	require.Equal(t, 6, res.LogsDropped)

	h, err = logTask.Enqueue(ctx, b, logArgs{Lines: 1, Size: 3000, Succeed: 1})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err = h.Result(ctx)
	require.NoError(t, err)
	require.Len(t, res.Logs, 1)
	require.True(t, res.Logs[0].Cut)
	require.Len(t, res.Logs[0].Message, 1000)
}

// RunLogs.Off keeps nothing on the run, and the records still reach the
// logger; Level keeps the levels it names.
func TestRunLogsOffAndLevel(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var out bytes.Buffer
	off := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: slog.New(slog.NewTextHandler(&out, nil)), RunLogs: localtasks.RunLogs{Off: true}}, MaxWorkers: 1})
	h, err := attrsTask.Enqueue(ctx, off, 1)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Logs)
	require.Equal(t, 2, strings.Count(out.String(), "\n"), "the logger has the records at its level")

	debug := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler),
		RunLogs: localtasks.RunLogs{Level: slog.LevelDebug}}, MaxWorkers: 1})
	h, err = attrsTask.Enqueue(ctx, debug, 1)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err = h.Result(ctx)
	require.NoError(t, err)
	require.Len(t, res.Logs, 3, "the debug record too, though the logger discards it")
	require.Equal(t, slog.LevelDebug, res.Logs[0].Level)
}

// A snapshot's Logs keep what they held when it was taken: a later record
// does not show in them, nor does an append to them reach the run.
func TestRunLogsSnapshotIsStable(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	logged, release := make(chan struct{}), make(chan struct{})
	h, err := stepLogTask.Enqueue(ctx, b, stepArgs{logged: logged, release: release})
	require.NoError(t, err)
	<-logged
	first, err := h.Result(ctx)
	require.NoError(t, err)
	require.Len(t, first.Logs, 1)
	_ = append(first.Logs, localtasks.LogRecord{Message: "mine"})
	close(release)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	last, err := h.Result(ctx)
	require.NoError(t, err)
	require.Len(t, first.Logs, 1)
	require.Equal(t, []string{"1:first", "1:second"}, messages(last.Logs))
}

type stepArgs struct{ logged, release chan struct{} }

var stepLogTask = localtasks.Define("runlog.step", func(ctx context.Context, a stepArgs) (int, error) {
	localtasks.Logger(ctx).Info("first")
	close(a.logged)
	<-a.release
	localtasks.Logger(ctx).Info("second")
	return 0, nil
})

func TestRunLogsConfig(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{RunLogs: localtasks.RunLogs{MaxBytes: -1}}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "RunLogs.Off")

	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: t.Name()}})
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: t.Name(), RunLogs: localtasks.RunLogs{Off: true}}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "RunLogs")
	_ = b
}
