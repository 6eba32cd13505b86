package river_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// logScript says what each attempt of a run of logTask logs, and how many
// of its attempts fail.
type logScript struct {
	Fail     int         `json:"fail"`
	Attempts [][]logLine `json:"attempts"` // by attempt, from 1
}

// logLine is a record logTask writes: at Level, in Group if set, with the
// attribute line (its index in the attempt) and Attrs, key-value pairs.
type logLine struct {
	Level slog.Level `json:"level"`
	Msg   string     `json:"msg"`
	Group string     `json:"group,omitempty"`
	Attrs []string   `json:"attrs,omitempty"`
}

var logTask = localtasks.Define("river_test.logs", func(ctx context.Context, s logScript) (int, error) {
	n := localtasks.Attempt(ctx)
	if n <= len(s.Attempts) {
		for i, line := range s.Attempts[n-1] {
			l := localtasks.Logger(ctx)
			if line.Group != "" {
				l = l.WithGroup(line.Group)
			}
			args := []any{slog.Int("line", i)}
			for j := 0; j+1 < len(line.Attrs); j += 2 {
				args = append(args, line.Attrs[j], line.Attrs[j+1])
			}
			l.Log(ctx, line.Level, line.Msg, args...)
		}
	}
	if n <= s.Fail {
		return 0, fmt.Errorf("attempt %d fails", n)
	}
	return n, nil
}, localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 5, Delay: time.Millisecond}))

// info returns n records at slog.LevelInfo, named by prefix.
func info(prefix string, n int) []logLine {
	lines := make([]logLine, n)
	for i := range lines {
		lines[i] = logLine{Level: slog.LevelInfo, Msg: fmt.Sprintf("%s %d", prefix, i)}
	}
	return lines
}

// newLogBackend returns a backend with one worker on schema, keeping run
// logs by cfg.
func newLogBackend(t *testing.T, ctx context.Context, schema string, cfg localtasks.RunLogs) *ltriver.Backend {
	t.Helper()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet, RunLogs: cfg, FetchCooldown: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return b
}

// runLogged runs s on b to its end and returns its result.
func runLogged(t *testing.T, ctx context.Context, b localtasks.Backend, s logScript) localtasks.TaskResult {
	t.Helper()
	h, err := logTask.Enqueue(ctx, b, s)
	require.NoError(t, err)
	_, _ = h.Wait(ctx)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.True(t, res.Status.Finished(), "status %v", res.Status)
	return res
}

// kept is what a test compares of a LogRecord: all but its time.
type kept struct {
	Attempt int
	Level   slog.Level
	Stream  string
	Message string
	Attrs   []localtasks.LogAttr
	Cut     bool
}

func attr(k, v string) localtasks.LogAttr { return localtasks.LogAttr{Key: k, Value: v} }

func keptOf(recs []localtasks.LogRecord) []kept {
	var out []kept
	for _, r := range recs {
		out = append(out, kept{r.Attempt, r.Level, r.Stream, r.Message, r.Attrs, r.Cut})
	}
	return out
}

// riverLog is the shape River UI and riverlog read of a job's metadata
// (riverlog's metadataWithLog).
type riverLog struct {
	RiverLog []struct {
		Attempt int    `json:"attempt"`
		Log     string `json:"log"`
	} `json:"river:log"`
}

// jobMetadata returns the metadata of the job of run id, as stored.
func jobMetadata(t *testing.T, ctx context.Context, schema, id string) map[string]json.RawMessage {
	t.Helper()
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, "SELECT metadata FROM "+pgx.Identifier{schema, "river_job"}.Sanitize()+" WHERE id = $1", id).Scan(&raw))
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// riverLogOf reads the run's logs as River UI does.
func riverLogOf(t *testing.T, ctx context.Context, schema, id string) riverLog {
	t.Helper()
	m := jobMetadata(t, ctx, schema, id)
	raw, ok := m["river:log"]
	require.True(t, ok, "the job's metadata has no river:log: %v", m)
	var rl riverLog
	require.NoError(t, json.Unmarshal([]byte(`{"river:log":`+string(raw)+`}`), &rl))
	return rl
}

// TestRunLogsPerAttempt checks that what each attempt logs, with its level,
// time and attributes, is kept on the run across a retry, and stored as
// riverlog stores a job's logs, which River UI shows: an entry an attempt,
// of JSON lines.
func TestRunLogsPerAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	b := newLogBackend(t, ctx, schema, localtasks.RunLogs{})
	before := time.Now()
	res := runLogged(t, ctx, b, logScript{Fail: 1, Attempts: [][]logLine{
		{
			{Level: slog.LevelDebug, Msg: "below the level"},
			{Level: slog.LevelInfo, Msg: "first try", Attrs: []string{"user", "ann"}},
			{Level: slog.LevelError, Msg: "it broke", Group: "db", Attrs: []string{"table", "t \"1\"\n"}},
		},
		{
			{Level: slog.LevelWarn + 2, Msg: "second try"},
		},
	}})
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, []kept{
		{1, slog.LevelInfo, "log", "first try", []localtasks.LogAttr{attr("line", "1"), attr("user", "ann")}, false},
		{1, slog.LevelError, "log", "it broke", []localtasks.LogAttr{attr("db.line", "2"), attr("db.table", "t \"1\"\n")}, false},
		{2, slog.LevelWarn + 2, "log", "second try", []localtasks.LogAttr{attr("line", "0")}, false},
	}, keptOf(res.Logs))
	require.Zero(t, res.LogsDropped)
	for _, r := range res.Logs {
		require.False(t, r.Time.Before(before.Truncate(time.Microsecond)), "time %v", r.Time)
		require.False(t, r.Time.After(time.Now()), "time %v", r.Time)
	}
	require.False(t, res.Logs[2].Time.Before(res.Logs[1].Time))

	// As River UI reads them: an entry an attempt, each line a JSON object
	// with the time, level and message.
	rl := riverLogOf(t, ctx, schema, res.ID)
	require.Len(t, rl.RiverLog, 2)
	for i, e := range rl.RiverLog {
		require.Equal(t, i+1, e.Attempt)
		for line := range strings.Lines(e.Log) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m), "line %q", line)
			require.Contains(t, m, "time")
			require.Contains(t, m, "level")
			require.Contains(t, m, "msg")
		}
	}
	require.Contains(t, rl.RiverLog[0].Log, `"level":"ERROR","msg":"it broke"`)
	require.Contains(t, rl.RiverLog[1].Log, `"level":"WARN+2","msg":"second try"`)

	// Wait's result, from the final row River's subscription gave this
	// process's worker, has them too; so does the finished event.
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := logTask.Enqueue(ctx, b, logScript{Attempts: [][]logLine{info("once", 1)}})
	require.NoError(t, err)
	got, err := b.Wait(ctx, h.ID())
	require.NoError(t, err)
	require.Len(t, got.Logs, 1)
	require.Equal(t, "once 0", got.Logs[0].Message)
	for {
		select {
		case ev := <-sub.C():
			if ev.Kind != localtasks.EventFinished || ev.Result.ID != h.ID() {
				continue
			}
			require.Len(t, ev.Result.Logs, 1)
			require.Equal(t, "once 0", ev.Result.Logs[0].Message)
			return
		case <-ctx.Done():
			t.Fatal("no finished event")
		}
	}
}

// TestRunLogsBounds checks that a run's logs are bounded as localtasks'
// own backends bound them, by running the same scripts on a thread pool
// with the same RunLogs: the records kept, their cuts, and the count of
// those dropped, across attempts.
func TestRunLogsBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	cases := []struct {
		name string
		cfg  localtasks.RunLogs
		s    logScript
		want int // LogsDropped
	}{
		{"later attempt's records push out all the earlier's", localtasks.RunLogs{MaxRecords: 3},
			logScript{Fail: 1, Attempts: [][]logLine{info("a", 2), info("b", 5)}}, 4},
		{"and some of them", localtasks.RunLogs{MaxRecords: 4},
			logScript{Fail: 1, Attempts: [][]logLine{info("a", 3), info("b", 2)}}, 1},
		{"over three attempts, one silent", localtasks.RunLogs{MaxRecords: 3},
			logScript{Fail: 2, Attempts: [][]logLine{info("a", 2), nil, info("c", 2)}}, 1},
		{"an earlier attempt's count stays", localtasks.RunLogs{MaxRecords: 2},
			logScript{Fail: 2, Attempts: [][]logLine{info("a", 4), nil, nil}}, 2},
		{"long messages cut, bytes bound", localtasks.RunLogs{MaxBytes: 300},
			logScript{Fail: 1, Attempts: [][]logLine{
				{{Msg: long}, {Msg: "short"}},
				{{Msg: long, Attrs: []string{"k", strings.Repeat("v", 150)}}, {Msg: long}, {Msg: "x"}},
			}}, 2}, // the second long one has no room even without attempt 1's "short", which stays
		{"attributes too long alone", localtasks.RunLogs{MaxBytes: 40},
			logScript{Attempts: [][]logLine{{{Msg: "big", Attrs: []string{"k", strings.Repeat("v", 50)}}, {Msg: "small"}}}}, 1},
		{"level", localtasks.RunLogs{Level: slog.LevelWarn},
			logScript{Attempts: [][]logLine{{{Level: slog.LevelInfo, Msg: "no"}, {Level: slog.LevelWarn, Msg: "yes"}}}}, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tp, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{
				Name: fmt.Sprintf("river_test.runlogs-%d", i), Logger: quiet, RunLogs: c.cfg}})
			require.NoError(t, err)
			defer tp.Close(ctx)
			want := runLogged(t, ctx, tp, c.s)
			require.Equal(t, c.want, want.LogsDropped, "the thread pool's count")

			schema := newSchema(t)
			got := runLogged(t, ctx, newLogBackend(t, ctx, schema, c.cfg), c.s)
			require.Equal(t, want.Attempts, got.Attempts)
			require.Equal(t, keptOf(want.Logs), keptOf(got.Logs))
			require.Equal(t, want.LogsDropped, got.LogsDropped)

			// River UI sees the count too, at the end of the last entry.
			if c.want > 0 {
				rl := riverLogOf(t, ctx, schema, got.ID)
				last := rl.RiverLog[len(rl.RiverLog)-1].Log
				require.True(t, strings.HasSuffix(last, fmt.Sprintf("{\"dropped\":%d,\"msg\":\"%d records of this run dropped so far, beyond RunLogs' bounds\"}\n", c.want, c.want)), "%s", last)
			}
		})
	}
}

// TestRunLogsNone checks that RunLogs.Off keeps nothing, and that a run
// that logs nothing kept stores nothing, in either case no metadata.
func TestRunLogsNone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		name string
		cfg  localtasks.RunLogs
		s    logScript
	}{
		{"off", localtasks.RunLogs{Off: true}, logScript{Fail: 1, Attempts: [][]logLine{info("a", 2), info("b", 1)}}},
		{"nothing logged", localtasks.RunLogs{}, logScript{Fail: 1}},
		{"nothing kept", localtasks.RunLogs{}, logScript{Attempts: [][]logLine{{{Level: slog.LevelDebug, Msg: "below"}}}}},
	} {
		schema := newSchema(t)
		res := runLogged(t, ctx, newLogBackend(t, ctx, schema, c.cfg), c.s)
		require.Nil(t, res.Logs, c.name)
		require.Zero(t, res.LogsDropped, c.name)
		require.NotContains(t, jobMetadata(t, ctx, schema, res.ID), "river:log", c.name)
	}
	_, err := ltriver.New(ctx, pool, ltriver.Config{RunLogs: localtasks.RunLogs{MaxRecords: -1}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "RunLogs.Off")
}

// TestRunLogsElsewhere checks that a run's logs reach the processes that
// did not run it: a second client on the schema, which runs nothing, and
// this process reading a run that a worker process ran.
func TestRunLogsElsewhere(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := logScript{Fail: 1, Attempts: [][]logLine{info("a", 1), {{Level: slog.LevelWarn, Msg: "b", Attrs: []string{"k", "v"}}}}}
	want := []kept{
		{1, slog.LevelInfo, "log", "a 0", []localtasks.LogAttr{attr("line", "0")}, false},
		{2, slog.LevelWarn, "log", "b", []localtasks.LogAttr{attr("line", "0"), attr("k", "v")}, false},
	}

	schema := newSchema(t)
	newLogBackend(t, ctx, schema, localtasks.RunLogs{})
	reader, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema})
	require.NoError(t, err)
	defer reader.Close(ctx)
	res := runLogged(t, ctx, reader, s)
	require.Equal(t, want, keptOf(res.Logs), "read by a second client")

	other := newSchema(t)
	startWorker(t, "logs", other)
	reader2, err := ltriver.New(ctx, pool, ltriver.Config{Schema: other})
	require.NoError(t, err)
	defer reader2.Close(ctx)
	res = runLogged(t, ctx, reader2, s)
	require.Equal(t, []string{"logs", "logs"}, res.WorkerIDs)
	require.Equal(t, want, keptOf(res.Logs), "read from another process")

	// A watch sees them with the final status.
	var last localtasks.TaskResult
	for r, err := range reader2.Watch(ctx, res.ID) {
		require.NoError(t, err)
		last = r
	}
	require.Equal(t, want, keptOf(last.Logs))
}

// lateCtx receives the ctx of a run of lateLogger, if it is empty.
var (
	lateCtx    = make(chan context.Context, 1)
	lateLogger = localtasks.Define("river_test.late-logger", func(ctx context.Context, _ struct{}) (int, error) {
		select {
		case lateCtx <- ctx:
		default:
		}
		return 0, nil
	})
)

// TestRunLogsLateLogger checks that a goroutine the task left behind,
// which logs after the attempt ended, is not kept and breaks nothing.
func TestRunLogsLateLogger(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newLogBackend(t, ctx, newSchema(t), localtasks.RunLogs{})
	h, err := lateLogger.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	select {
	case late := <-lateCtx:
		localtasks.Logger(late).Info("too late")
	case <-ctx.Done():
		t.Fatal("the run sent no ctx")
	}
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Logs)
}

// snoozer logs, and snoozes its first attempt.
var snoozer = localtasks.Define("river_test.log-snooze", func(ctx context.Context, _ struct{}) (int, error) {
	localtasks.Logger(ctx).Info("attempt")
	if localtasks.Attempt(ctx) == 1 {
		return 0, localtasks.Snooze(time.Millisecond)
	}
	return 0, nil
})

// TestRunLogsSnooze checks that a snoozed attempt's records keep
// localtasks' attempt number, which counts the snooze, though River's
// entries, which River UI numbers, do not.
func TestRunLogsSnooze(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	b := newLogBackend(t, ctx, schema, localtasks.RunLogs{})
	h, err := snoozer.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	res, err := b.Wait(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, []kept{
		{1, slog.LevelInfo, "log", "attempt", nil, false},
		{2, slog.LevelInfo, "log", "attempt", nil, false},
	}, keptOf(res.Logs))
	rl := riverLogOf(t, ctx, schema, h.ID())
	require.Len(t, rl.RiverLog, 2)
	require.Equal(t, 1, rl.RiverLog[0].Attempt)
	require.Equal(t, 1, rl.RiverLog[1].Attempt, "River does not count a snooze")
}
