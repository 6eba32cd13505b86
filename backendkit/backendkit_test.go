package backendkit_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
	"github.com/localtasks/localtasks/localtaskstest"
)

func TestWithTaskInfo(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "kept"))
	var reports, metadata []string
	ctx := backendkit.WithTaskInfo(parent, backendkit.TaskInfo{ID: "42", Task: "t", Attempt: 3, Logger: slog.Default(),
		Progress: func(done, total int64, message string) { reports = append(reports, message) },
		Metadata: func(key, value string) { metadata = append(metadata, key+"="+value) }})
	require.Equal(t, "42", localtasks.TaskID(ctx))
	require.Equal(t, "t", localtasks.TaskName(ctx))
	require.Equal(t, 3, localtasks.Attempt(ctx))
	require.NotNil(t, localtasks.Logger(ctx))
	require.Equal(t, "kept", ctx.Value(ctxKey{}), "the parent's values")
	localtasks.SetProgress(ctx, 1, 2, "half")
	require.Equal(t, []string{"half"}, reports)
	localtasks.SetMetadata(ctx, "rows", "3")
	localtasks.SetMetadata(ctx, "", "an empty key: dropped before the hook")
	require.Equal(t, []string{"rows=3"}, metadata)

	v, err := localtaskstest.Info.Definition().Call(ctx, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtaskstest.InfoResult{ID: "42", Task: "t", Attempt: 3}, v)

	require.NoError(t, ctx.Err())
	cancel()
	require.ErrorIs(t, ctx.Err(), context.Canceled, "the parent's cancellation")
	require.ErrorIs(t, localtasks.Cause(ctx), context.Canceled)
}

type ctxKey struct{}

func TestNewTaskErrorAndTimeout(t *testing.T) {
	t.Parallel()
	terr := backendkit.NewTimeoutError(5*time.Second, context.Canceled)
	require.ErrorIs(t, terr, localtasks.ErrTimeout)
	require.ErrorIs(t, terr, context.DeadlineExceeded)
	require.ErrorIs(t, terr, context.Canceled, "unwraps to what the task returned")
	require.Contains(t, terr.Error(), "timed out after 5s")

	at := time.Unix(10, 0)
	te := backendkit.NewTaskError(localtasks.TaskError{Attempt: 2, At: at, Type: "T", Message: "msg"}, terr)
	require.Equal(t, 2, te.Attempt)
	require.Equal(t, at, te.At)
	require.Equal(t, "msg", te.Error())
	require.ErrorIs(t, &te, localtasks.ErrTimeout)
	pe := backendkit.NewTaskError(localtasks.TaskError{Attempt: 1, At: at, Type: "string", Message: "boom", Stack: "goroutine 1"}, nil)
	require.Equal(t, "panic: boom", pe.Error())
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	def := localtaskstest.Echo.Definition()
	caps := localtasks.Capabilities{Defer: true}
	opts := localtasks.Options{}
	require.NoError(t, backendkit.CheckRequest(backendkit.Request{Backend: "b", Capabilities: caps, Task: def, Args: localtaskstest.EchoArgs{}, Options: &opts}))
	require.Equal(t, localtasks.QueueDefault, opts.Queue, "the default queue is filled in")
	for _, c := range []struct {
		def  localtasks.Definition
		args any
		opts localtasks.Options
		want error
	}{
		{nil, nil, localtasks.Options{}, localtasks.ErrInvalidTask},
		{def, "wrong", localtasks.Options{}, localtasks.ErrInvalidTask},
		{def, localtaskstest.EchoArgs{}, localtasks.Options{Priority: 101}, localtasks.ErrInvalidTask},
		{def, localtaskstest.EchoArgs{}, localtasks.Options{Queue: "other"}, localtasks.ErrInvalidTask},
		{def, localtaskstest.EchoArgs{}, localtasks.Options{Timeout: time.Second}, errors.ErrUnsupported},
	} {
		require.ErrorIs(t, backendkit.CheckRequest(backendkit.Request{Backend: "b", Capabilities: caps, Task: c.def, Args: c.args, Options: &c.opts}), c.want)
	}
	// The messages name the backend by its name, and an unnamed one as
	// such, never as backend "".
	queue := localtasks.Options{Queue: "other"}
	err := backendkit.CheckRequest(backendkit.Request{Backend: "b", Capabilities: caps, Task: def, Args: localtaskstest.EchoArgs{}, Options: &queue})
	require.ErrorContains(t, err, `not one of backend "b"'s queues`)
	err = backendkit.CheckRequest(backendkit.Request{Capabilities: caps, Task: def, Args: localtaskstest.EchoArgs{}, Options: &queue})
	require.ErrorContains(t, err, "not one of the backend's queues")
}

func TestBroadcaster(t *testing.T) {
	t.Parallel()
	b := backendkit.NewBroadcaster()
	require.False(t, b.Subscribed())
	sub := b.Subscribe(1)
	require.True(t, b.Subscribed())
	b.Publish(localtasks.Event{Kind: localtasks.EventEnqueued})
	b.Publish(localtasks.Event{Kind: localtasks.EventStarted}) // past the buffer: the first is lost
	require.Equal(t, localtasks.EventStarted, (<-sub.C()).Kind)
	require.Equal(t, uint64(1), sub.Dropped())
	sub.Close()
	_, open := <-sub.C()
	require.False(t, open)
	other := b.Subscribe(0)
	b.Publish(localtasks.Event{Kind: localtasks.EventFinished})
	b.Close()
	b.Close()
	require.Equal(t, localtasks.EventFinished, (<-other.C()).Kind, "what was published before Close is delivered")
	_, open = <-other.C()
	require.False(t, open)
	_, open = <-b.Subscribe(1).C()
	require.False(t, open, "a subscription after Close is closed")
}

func TestCompileStrike(t *testing.T) {
	t.Parallel()
	echo := localtaskstest.Echo.Definition()
	control := localtaskstest.Control.Definition()
	st := localtasks.Strike{Task: echo.Name(), Field: "N", Op: localtasks.OpBetween, Value: 1, Upper: 10}
	r, err := backendkit.CompileStrike(st)
	require.NoError(t, err)
	require.Equal(t, st, r.Strike())
	require.True(t, r.Matches(echo, localtaskstest.EchoArgs{N: 5}))
	require.False(t, r.Matches(echo, localtaskstest.EchoArgs{N: 11}))
	require.False(t, r.Matches(control, localtaskstest.ControlArgs{N: "5"}), "another task")

	same, err := backendkit.CompileStrike(localtasks.Strike{Task: echo.Name(), Field: "N", Op: localtasks.OpBetween, Value: 1.0, Upper: int64(10)})
	require.NoError(t, err)
	require.True(t, r.Same(same), "the same values once converted")
	other, err := backendkit.CompileStrike(localtasks.Strike{Task: echo.Name(), Field: "N", Op: localtasks.OpBetween, Value: 1, Upper: 9})
	require.NoError(t, err)
	require.False(t, r.Same(other))

	any7, err := backendkit.CompileStrike(localtasks.Strike{Field: "N", Op: localtasks.OpEqual, Value: 7})
	require.NoError(t, err)
	require.True(t, any7.Matches(echo, localtaskstest.EchoArgs{N: 7}), "a strike without a task: every task with the field")
	require.False(t, any7.Matches(control, localtaskstest.ControlArgs{N: "7"}), "a field of another type")

	for _, bad := range []localtasks.Strike{{}, {Task: echo.Name(), Field: "N", Op: "=~", Value: 1}, {Task: "backendkit_test.no-such-task"}} {
		_, err := backendkit.CompileStrike(bad)
		require.ErrorIs(t, err, localtasks.ErrInvalidTask, "%+v", bad)
	}
}

func TestPerpetualSchedule(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := time.Date(2030, 3, 9, 11, 59, 0, 0, ny) // the day before New York moves its clocks on

	every, err := backendkit.PerpetualSchedule(localtasks.Perpetual{Every: time.Hour})
	require.NoError(t, err)
	require.Equal(t, at.Add(time.Hour), every.Next(at))

	noon, err := backendkit.PerpetualSchedule(localtasks.Perpetual{Cron: "0 12 * * *", Location: ny})
	require.NoError(t, err)
	first := noon.Next(at)
	require.True(t, time.Date(2030, 3, 9, 12, 0, 0, 0, ny).Equal(first), "noon in New York, not in UTC: %v", first)
	second := noon.Next(first)
	require.True(t, time.Date(2030, 3, 10, 12, 0, 0, 0, ny).Equal(second), "noon again the next day: %v", second)
	require.Equal(t, 23*time.Hour, second.Sub(first), "a day of 23 hours, as the clocks moved on")
	want, err := localtasks.CronTimes("0 12 * * *", ny, at, 2)
	require.NoError(t, err)
	require.Equal(t, want, []time.Time{first, second}, "the times CronTimes names")

	utc, err := backendkit.PerpetualSchedule(localtasks.Perpetual{Cron: "0 12 * * *"})
	require.NoError(t, err)
	require.Equal(t, time.Date(2030, 3, 9, 12, 0, 0, 0, time.UTC), utc.Next(time.Date(2030, 3, 9, 11, 0, 0, 0, time.UTC)), "UTC without a Location")

	custom := scheduleFunc(func(t time.Time) time.Time { return t.Add(time.Minute) })
	s, err := backendkit.PerpetualSchedule(localtasks.Perpetual{Schedule: custom})
	require.NoError(t, err)
	require.Equal(t, at.Add(time.Minute), s.Next(at))

	_, err = backendkit.PerpetualSchedule(localtasks.Perpetual{Cron: "61 * * * *"})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "minute")
	_, err = backendkit.PerpetualSchedule(localtasks.Perpetual{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
}

type scheduleFunc func(time.Time) time.Time

func (f scheduleFunc) Next(t time.Time) time.Time { return f(t) }

func TestWithTaskInfoUnchained(t *testing.T) {
	t.Parallel()
	ctx := backendkit.WithTaskInfo(context.Background(), backendkit.TaskInfo{ID: "7", Task: "t", Attempt: 1,
		Unchained: "its runs are a periodic job's: change the schedule instead"})
	for name, err := range map[string]error{
		"StopPerpetual": localtasks.StopPerpetual(ctx),
		"SetNextRun":    localtasks.SetNextRun(ctx, time.Now()),
		"SetNextArgs":   localtasks.SetNextArgs(ctx, struct{}{}),
	} {
		require.ErrorIs(t, err, errors.ErrUnsupported, name)
		require.ErrorContains(t, err, name+` in task "t": its runs are a periodic job's: change the schedule instead`)
	}
	plain := backendkit.WithTaskInfo(context.Background(), backendkit.TaskInfo{ID: "7", Task: "t", Attempt: 1})
	require.ErrorIs(t, localtasks.StopPerpetual(plain), localtasks.ErrInvalidTask, "without Unchained: a task that is not perpetual")
}

// TestRunLogsCapture checks that TaskInfo.Capture gets what an attempt
// writes through Logger(ctx), without the attributes Logger adds, at the
// first Logger and not before, and that RunLogs bounds a run's records as
// Config.RunLogs says: the earlier attempts' make room for the current's.
func TestRunLogsCapture(t *testing.T) {
	t.Parallel()
	logs := backendkit.NewRunLogs(localtasks.RunLogs{MaxRecords: 3, Level: slog.LevelWarn})
	logs.Add(localtasks.LogRecord{Attempt: 1, Stream: "log", Message: "a"})
	logs.Add(localtasks.LogRecord{Attempt: 1, Stream: "log", Message: "b"})
	logs.AddDropped(2)
	captures := 0
	ctx := backendkit.WithTaskInfo(context.Background(), backendkit.TaskInfo{ID: "7", Task: "t", Attempt: 2, Logger: slog.New(slog.DiscardHandler),
		Capture: func() slog.Handler { captures++; return logs.Handler(2) }})
	require.Zero(t, captures, "no Logger yet")
	l := localtasks.Logger(ctx)
	require.Equal(t, 1, captures)
	l.Info("below the level")
	l.WithGroup("g").Warn("c", "k", 1)
	l.Error("d")
	localtasks.Logger(ctx).Error("e")
	require.Equal(t, 1, captures, "once an attempt")
	recs, dropped := logs.Records()
	var got []string
	for _, r := range recs {
		got = append(got, r.Message)
	}
	require.Equal(t, []string{"c", "d", "e"}, got)
	require.Equal(t, 2+2, dropped, "what was dropped before, and a and b")
	require.Equal(t, []localtasks.LogAttr{{Key: "g.k", Value: "1"}}, recs[0].Attrs)
	require.Equal(t, 2, recs[0].Attempt)

	// The zero bounds are the defaults.
	all := backendkit.NewRunLogs(localtasks.RunLogs{})
	for range localtasks.RunLogsMaxRecords + 1 {
		all.Add(localtasks.LogRecord{Attempt: 1, Message: "m"})
	}
	recs, dropped = all.Records()
	require.Len(t, recs, localtasks.RunLogsMaxRecords)
	require.Equal(t, 1, dropped)
}
