package localtasks_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

const heartbeatQueue = "test.heartbeat"

var (
	// nightly is perpetual, every hour, but asks for its next run at
	// 02:00 the next day, and stops once it ran at Stop.
	nightly = localtasks.Define("test.nightly", func(ctx context.Context, a nightlyArgs) (time.Time, error) {
		next := a.Now.Add(24 * time.Hour).Truncate(24 * time.Hour).Add(2 * time.Hour)
		if err := localtasks.SetNextRun(ctx, next); err != nil {
			return time.Time{}, err
		}
		if err := localtasks.SetNextArgs(ctx, nightlyArgs{Now: next}); err != nil {
			return time.Time{}, err
		}
		return a.Now, nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))

	// wrongNext asks for a next argument of the wrong type.
	wrongNext = localtasks.Define("test.wrong-next", func(ctx context.Context, _ int) (string, error) {
		err := localtasks.SetNextArgs(ctx, "not an int")
		if err == nil {
			return "", errors.New("SetNextArgs took a string for an int task")
		}
		return err.Error(), localtasks.StopPerpetual(ctx)
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))

	// heartbeat is automatic, on a queue of its own, and runs every
	// millisecond.
	heartbeat = localtasks.Define("test.heartbeat", func(ctx context.Context, _ struct{}) (int, error) {
		return localtasks.Attempt(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Millisecond, Automatic: true}), localtasks.WithQueue(heartbeatQueue))

	// notPerpetual calls StopPerpetual, which only perpetual tasks may.
	notPerpetual = localtasks.Define("test.not-perpetual", func(ctx context.Context, _ struct{}) (string, error) {
		return "", localtasks.StopPerpetual(ctx)
	})
)

type nightlyArgs struct{ Now time.Time }

func TestPerpetualSetNextRunAndArgs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start := time.Date(2030, 3, 1, 2, 0, 0, 0, time.UTC)
	clock := localtaskstest.NewFakeClock(start)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	sub := b.Subscribe(64)
	defer sub.Close()
	first, err := nightly.Enqueue(ctx, b, nightlyArgs{Now: start})
	require.NoError(t, err)
	v, err := first.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, start, v)

	next := nextEnqueued(t, sub, first.ID())
	want := start.Add(24 * time.Hour)
	require.Equal(t, want, next.RunAfter, "SetNextRun overrides the interval")
	require.Equal(t, nightlyArgs{Now: want}, next.Args, "SetNextArgs sets the next argument")
	require.NoError(t, b.Cancel(ctx, next.ID), "cancelling a run ends the chain")
	require.NoError(t, b.Drain(ctx))
	require.Equal(t, uint64(1), b.Counters().Perpetuated)
}

func TestPerpetualControlsRefuseBadUse(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	require.ErrorIs(t, localtasks.StopPerpetual(ctx), localtasks.ErrInvalidTask, "outside a task")
	require.ErrorIs(t, localtasks.SetNextRun(ctx, time.Now()), localtasks.ErrInvalidTask)
	require.ErrorIs(t, localtasks.SetNextArgs(ctx, 1), localtasks.ErrInvalidTask)

	b := newPool(t, localtasks.ThreadPoolConfig{})
	hd, err := wrongNext.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	msg, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Contains(t, msg, "takes arguments of type int")
	require.NoError(t, b.Drain(ctx), "StopPerpetual ended the chain")

	hd2, err := notPerpetual.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = hd2.Wait(ctx)
	require.ErrorContains(t, err, "not perpetual")
}

// An automatic perpetual task that Config.Automatic names starts with the
// backend, once per backend state, and Config.Test.RunAtMost ends its chain.
func TestAutomaticPerpetualRunAtMost(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.Config{Name: "test.automatic", Queues: []string{localtasks.QueueDefault, heartbeatQueue},
		Automatic: []string{heartbeat.Name()}, Test: localtasks.TestConfig{RunAtMost: map[string]int{heartbeat.Name(): 5}}}
	b1 := newPool(t, localtasks.ThreadPoolConfig{Config: cfg})
	b2 := newPool(t, localtasks.ThreadPoolConfig{Config: cfg})
	require.NoError(t, b1.Drain(ctx))
	c := b2.Counters()
	require.Equal(t, uint64(5), c.Succeeded, "one chain for the two backends of one state, five runs")
	require.Equal(t, uint64(4), c.Perpetuated)
	require.Equal(t, uint64(1), c.Enqueued)

	other := cfg
	other.Test.RunAtMost = map[string]int{heartbeat.Name(): 6}
	_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: other})
	require.ErrorIs(t, err, localtasks.ErrConfig, "a different RunAtMost under one name")
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{RunAtMost: map[string]int{"x": 0}}}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
}

// nextEnqueued returns the next run enqueued other than the one with ID id.
func nextEnqueued(t *testing.T, sub *localtasks.Subscription, id string) localtasks.TaskResult {
	t.Helper()
	for ev := range sub.C() {
		if ev.Kind == localtasks.EventEnqueued && ev.Result.ID != id {
			return ev.Result
		}
	}
	t.Fatal("the subscription closed before another run was enqueued")
	return localtasks.TaskResult{}
}

// hourly is automatic, on the default queue: Config.Automatic alone decides
// where it starts.
var hourly = localtasks.Define("test.hourly", func(ctx context.Context, _ struct{}) (string, error) {
	return localtasks.TaskID(ctx), nil
}, localtasks.WithCron("0 * * * *", nil))

// Nothing starts an automatic task but Config.Automatic: not the default
// queue, not its own queue listed in Queues; and a backend starts just the
// tasks it names.
func TestAutomaticStartsOnlyWhereAsked(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start := time.Date(2030, 3, 1, 10, 20, 0, 0, time.UTC)
	queues := []string{localtasks.QueueDefault, heartbeatQueue}

	plain := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: queues,
		Test: localtasks.TestConfig{Clock: localtaskstest.NewFakeClock(start)}}})
	require.Zero(t, plain.Counters().Enqueued, "without Automatic, no automatic task starts, on any queue")

	asked := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: queues, Automatic: []string{hourly.Name()},
		Test: localtasks.TestConfig{Clock: localtaskstest.NewFakeClock(start)}}})
	snap, err := asked.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Counters.Enqueued, "the named task, and not heartbeat, whose queue is listed too")
	require.Len(t, snap.Scheduled, 1)
	require.Equal(t, hourly.Name(), snap.Scheduled[0].Task)
	require.Equal(t, time.Date(2030, 3, 1, 11, 0, 0, 0, time.UTC), snap.Scheduled[0].RunAfter)

	// A recording backend records the runs it starts.
	rec, err := localtasks.NewRecording(localtasks.Config{Automatic: []string{hourly.Name()},
		Test: localtasks.TestConfig{Clock: localtaskstest.NewFakeClock(start)}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rec.Close(testCtx(t))) })
	runs := rec.Recorded()
	require.Len(t, runs, 1)
	require.Equal(t, hourly.Name(), runs[0].Task)
	require.Equal(t, hourly.Name(), runs[0].Key)
	require.Equal(t, localtasks.StatusScheduled, runs[0].Status)
	bare, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bare.Close(testCtx(t))) })
	require.Empty(t, bare.Recorded(), "nor does a recording backend start one unasked")
}

// Config.Automatic names tasks that are defined, automatic and on a listed
// queue; anything else is an ErrConfig that says what to do, from every
// constructor.
func TestAutomaticConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		automatic []string
		want      string
	}{
		{"undefined", []string{"test.no-such-task"}, `task "test.no-such-task", which is not defined: check the name, and define the task before building the backend`},
		{"perpetual, not automatic", []string{nightly.Name()}, `task "test.nightly", which is not automatic: define it WithCron`},
		{"not perpetual", []string{notPerpetual.Name()}, "which is not automatic"},
		{"queue not listed", []string{heartbeat.Name()}, `queue "test.heartbeat" is not one of Queues ["default"]: add the queue to Queues`},
		{"empty name", []string{""}, "Automatic name 0 is empty"},
		{"twice", []string{hourly.Name(), hourly.Name()}, `lists task "test.hourly" twice: list each task once`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := localtasks.Config{Automatic: c.automatic}
			_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg})
			require.ErrorIs(t, err, localtasks.ErrConfig)
			require.ErrorContains(t, err, c.want)
			_, err = localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: cfg})
			require.ErrorIs(t, err, localtasks.ErrConfig)
			require.ErrorContains(t, err, c.want)
			_, err = localtasks.NewRecording(cfg)
			require.ErrorIs(t, err, localtasks.ErrConfig)
			require.ErrorContains(t, err, c.want)
		})
	}

	_, err := localtasks.NewImmediate(localtasks.Config{Automatic: []string{hourly.Name()}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "an ImmediateBackend runs no perpetual task: leave Automatic empty")

	// Backends of one Name start the tasks once, so they must agree.
	cfg := localtasks.Config{Name: "test.automatic-differs", Automatic: []string{hourly.Name()}}
	newPool(t, localtasks.ThreadPoolConfig{Config: cfg})
	cfg.Automatic = nil
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, `it has Automatic ["test.hourly"], this one asks for []`)
}

var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

func TestCronTimes(t *testing.T) {
	t.Parallel()
	at := func(loc *time.Location, s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name string
		expr string
		loc  *time.Location
		from string
		n    int
		want []string // in loc, with the zone's abbreviation
	}{
		{"nil is UTC", "*/15 * * * *", nil, "2030-01-01 23:40", 3, []string{"2030-01-01 23:45 UTC", "2030-01-02 00:00 UTC", "2030-01-02 00:15 UTC"}},
		{"a descriptor", "@monthly", time.UTC, "2030-01-15 00:00", 2, []string{"2030-02-01 00:00 UTC", "2030-03-01 00:00 UTC"}},
		{"Paris, spring forward: 02:30 does not exist on 31 March", "30 2 * * *", paris, "2024-03-29 12:00", 3,
			[]string{"2024-03-30 02:30 CET", "2024-04-01 02:30 CEST", "2024-04-02 02:30 CEST"}},
		{"Paris, fall back: 02:30 comes once on 27 October", "30 2 * * *", paris, "2024-10-26 12:00", 2,
			[]string{"2024-10-27 02:30 CEST", "2024-10-28 02:30 CET"}},
		{"Paris, every hour across the fall back", "0 * * * *", paris, "2024-10-27 01:30", 3,
			[]string{"2024-10-27 02:00 CEST", "2024-10-27 03:00 CET", "2024-10-27 04:00 CET"}},
		{"leap days", "0 0 29 2 *", time.UTC, "2024-03-01 00:00", 2, []string{"2028-02-29 00:00 UTC", "2032-02-29 00:00 UTC"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			loc := c.loc
			if loc == nil {
				loc = time.UTC
			}
			times, err := localtasks.CronTimes(c.expr, c.loc, at(loc, c.from), c.n)
			require.NoError(t, err)
			var got []string
			for _, v := range times {
				require.Equal(t, loc, v.Location(), "times in the location")
				got = append(got, v.Format("2006-01-02 15:04 MST"))
			}
			require.Equal(t, c.want, got)
		})
	}

	bad := []struct {
		expr string
		n    int
		want string
	}{
		{"61 * * * *", 1, `minute field "61": value 61 out of range 0-59: fix the expression`},
		{"* * *", 1, "expected 5 fields"},
		{"@fortnightly", 1, "unknown descriptor"},
		{"0 0 30 2 *", 1, `cron expression "0 0 30 2 *" names no time in the years after`},
		{"0 * * * *", 0, "asked for 0 times: ask for 1 or more"},
	}
	for _, c := range bad {
		_, err := localtasks.CronTimes(c.expr, nil, time.Now(), c.n)
		require.ErrorIs(t, err, localtasks.ErrInvalidTask, c.expr)
		require.ErrorContains(t, err, c.want, c.expr)
	}
}

// logTo is a slog.Handler that sends every message to c.
type logTo chan string

func (c logTo) Enabled(context.Context, slog.Level) bool      { return true }
func (c logTo) Handle(_ context.Context, r slog.Record) error { c <- r.Message; return nil }
func (c logTo) WithAttrs([]slog.Attr) slog.Handler            { return c }
func (c logTo) WithGroup(string) slog.Handler                 { return c }

// waitLog waits for a message of logs that holds want.
func waitLog(t *testing.T, ctx context.Context, logs logTo, want string) {
	t.Helper()
	for {
		select {
		case m := <-logs:
			if strings.Contains(m, want) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no log message holds %q: %v", want, ctx.Err())
		}
	}
}

// goesWrong is a Schedule whose first time is a minute on, and whose next
// is the time it is given: a mistake.
type goesWrong struct{ calls atomic.Int32 }

func (g *goesWrong) Next(t time.Time) time.Time {
	if g.calls.Add(1) == 1 {
		return t.Add(time.Minute)
	}
	return t
}

var wrongSchedule = &goesWrong{}

var scheduledWrong = localtasks.Define("test.schedule-goes-wrong", func(ctx context.Context, _ struct{}) (int, error) {
	return 1, nil
}, localtasks.WithPerpetual(localtasks.Perpetual{Schedule: wrongSchedule}))

// A Schedule whose Next returns a time not after the one it was given ends
// its chain, and says so in the log, rather than run it in a loop.
func TestScheduleNotAfterEndsChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	logs := make(logTo, 64)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: slog.New(logs), Test: localtasks.TestConfig{Clock: clock}}})
	hd, err := scheduledWrong.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtaskstest.Epoch.Add(time.Minute), snapshotOf(t, b).Scheduled[0].RunAfter)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	_, err = hd.Wait(ctx)
	require.NoError(t, err)
	waitLog(t, ctx, logs, "Schedule returned a time not after the one it was given: its chain ends")
	require.NoError(t, b.Drain(ctx))
	require.Zero(t, b.Counters().Perpetuated)
	require.Equal(t, int32(2), wrongSchedule.calls.Load())
}

// A pool starts again only the chain it started: that of a task its
// Config.Automatic names, keyed by the task's name. Another chain of the
// task, or the chain on a pool that does not name it, ends when cut; a
// recording backend, which runs nothing, starts nothing again.
func TestCutChainStartsAgainOnlyIfAutomatic(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	task := localtaskstest.Restartable
	queues := []string{localtasks.QueueDefault, localtaskstest.AutomaticQueue}
	cut := func(b localtasks.Controller, id string) {
		t.Helper()
		require.NoError(t, b.Cancel(ctx, id))
		res, err := b.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
	}

	named := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: queues, Automatic: []string{task.Name()},
		Test: localtasks.TestConfig{Clock: localtaskstest.NewFakeClock(localtaskstest.Epoch)}}})
	other, err := task.Using(localtasks.WithKey("other")).Enqueue(ctx, named, localtaskstest.RestartArgs{})
	require.NoError(t, err)
	cut(named, other.ID())
	snap := snapshotOf(t, named)
	require.Len(t, slices.Concat(snap.Queued, snap.Scheduled, snap.Running), 1, "the automatic chain alone")
	require.Zero(t, snap.Counters.Perpetuated, "the chain keyed other ended")
	cut(named, slices.Concat(snap.Queued, snap.Scheduled, snap.Running)[0].ID)
	require.Len(t, snapshotOf(t, named).Scheduled, 1, "the automatic chain started again")

	plain := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: queues}})
	hd, err := task.Enqueue(ctx, plain, localtaskstest.RestartArgs{})
	require.NoError(t, err)
	cut(plain, hd.ID())
	require.NoError(t, plain.Drain(ctx), "not automatic here: the chain ended")

	rec, err := localtasks.NewRecording(localtasks.Config{Queues: queues, Automatic: []string{task.Name()}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rec.Close(testCtx(t))) })
	require.NoError(t, rec.Cancel(ctx, rec.Recorded()[0].ID))
	require.Len(t, rec.Recorded(), 1, "no run follows on a recording backend")
}

// A chain with a Schedule resumes from a journal with the Schedule of its
// task's definition, which the journal cannot hold.
func TestJournalKeepsScheduleChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	hd, err := localtaskstest.Periodic.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	b2 := journalPool(t, t.Name(), j, clock, 1)
	defer func() { require.NoError(t, b2.Close(ctx)) }()
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	res, err := b2.Wait(ctx, hd.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	snap := snapshotOf(t, b2)
	require.Len(t, snap.Scheduled, 1)
	require.Equal(t, localtaskstest.Epoch.Add(3*time.Minute), snap.Scheduled[0].RunAfter, "the Schedule's next time")
}

// RunOnce tells when a Schedule's next run would start.
func TestRunOnceSchedule(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewImmediate(localtasks.Config{Test: localtasks.TestConfig{Clock: localtaskstest.NewFakeClock(localtaskstest.Epoch)}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t))) })
	r, err := b.RunOnce(ctx, localtaskstest.Periodic.Definition(), struct{}{})
	require.NoError(t, err)
	require.Equal(t, localtaskstest.Epoch.Add(time.Minute), r.Next)
}
