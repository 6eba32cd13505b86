package river_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

var (
	// everySecond is automatic, every second: on River a periodic job
	// whose first run starts at once.
	everySecond = localtasks.Define("river_test.every-second", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Second, Automatic: true}))

	// yearlyOnStart is automatic, once a year, and runs as its chain starts.
	yearlyOnStart = localtasks.Define("river_test.yearly-on-start", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Cron: "0 0 1 1 *", Automatic: true, RunOnStart: true}))

	// newYorkNoon runs at noon in New York.
	newYorkNoon = localtasks.Define("river_test.new-york-noon", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithCron("0 12 * * *", mustLoadLocation("America/New_York")))

	// stopper asks to end its chain, and returns what StopPerpetual said.
	stopper = localtasks.Define("river_test.stopper", func(ctx context.Context, _ struct{}) (string, error) {
		return fmt.Sprint(localtasks.StopPerpetual(ctx)), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Cron: "0 0 1 1 *", Automatic: true, RunOnStart: true}))

	// notAutomatic is perpetual, but leaves its start to Enqueue.
	notAutomatic = localtasks.Define("river_test.not-automatic", func(ctx context.Context, _ struct{}) (int, error) { return 0, nil },
		localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute}))

	// elsewhere is automatic on a queue of its own.
	elsewhere = localtasks.Define("river_test.elsewhere", func(ctx context.Context, _ struct{}) (int, error) { return 0, nil },
		localtasks.WithCron("@daily", nil), localtasks.WithQueue("elsewhere"))
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// attempts returns a middleware that sends each attempt it wraps, after it
// ran, to the channel it returns.
func attempts() (localtasks.Middleware, <-chan localtasks.Execution) {
	ch := make(chan localtasks.Execution, 16)
	return func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		err := next(ctx)
		ch <- ex
		return err
	}, ch
}

// nextAttempt returns the next attempt of ch, or fails the test when ctx ends.
func nextAttempt(t *testing.T, ctx context.Context, ch <-chan localtasks.Execution) localtasks.Execution {
	t.Helper()
	select {
	case ex := <-ch:
		return ex
	case <-ctx.Done():
		t.Fatalf("no run of a periodic job came: %v", ctx.Err())
		return localtasks.Execution{}
	}
}

// periodicRun reads the run's job, checks that it is a run of task's
// periodic job that succeeded, and returns its result and the time River
// scheduled it for.
func periodicRun(t *testing.T, ctx context.Context, b *ltriver.Backend, task string, id string) (localtasks.TaskResult, time.Time) {
	t.Helper()
	res, err := b.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, task, res.Task)
	require.Equal(t, id, res.Value)
	require.Equal(t, task, res.Key, "the task's name as key: runs never overlap")
	jid, err := strconv.ParseInt(id, 10, 64)
	require.NoError(t, err)
	row, err := b.Client().JobGet(ctx, jid)
	require.NoError(t, err)
	require.Equal(t, task, row.Kind, "the job's kind is the task's name")
	var meta struct {
		Periodic bool   `json:"periodic"`
		ID       string `json:"river:periodic_job_id"`
	}
	require.NoError(t, json.Unmarshal(row.Metadata, &meta))
	require.True(t, meta.Periodic, "inserted by River's periodic job enqueuer")
	require.Equal(t, task, meta.ID, "the periodic job's ID is the task's name")
	return res, row.ScheduledAt
}

// An automatic task with an interval is a River periodic job: its first
// run at once, then one every interval.
func TestAutomaticEvery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mw, ran := attempts()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 2, Tasks: []string{everySecond.Name()},
		Automatic: []string{everySecond.Name()}, Middleware: []localtasks.Middleware{mw}, Logger: quiet, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()

	first, firstAt := periodicRun(t, ctx, b, everySecond.Name(), nextAttempt(t, ctx, ran).ID)
	second, secondAt := periodicRun(t, ctx, b, everySecond.Name(), nextAttempt(t, ctx, ran).ID)
	require.NotEqual(t, first.ID, second.ID)
	require.Equal(t, time.Second, secondAt.Sub(firstAt), "one run a second, from start to start")
}

// An automatic task that runs on start runs at once as River's leader
// starts its periodic job, though its cron expression names a time a year
// away.
func TestAutomaticRunOnStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mw, ran := attempts()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 2, Tasks: []string{yearlyOnStart.Name()},
		Automatic: []string{yearlyOnStart.Name()}, Middleware: []localtasks.Middleware{mw}, Logger: quiet, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()

	ex := nextAttempt(t, ctx, ran)
	require.Equal(t, yearlyOnStart.Name(), ex.Task)
	require.Equal(t, 1, ex.Attempt)
	require.Equal(t, localtasks.QueueDefault, ex.Queue)
	require.Equal(t, struct{}{}, ex.Args, "the zero argument")
	periodicRun(t, ctx, b, yearlyOnStart.Name(), ex.ID)
}

// A run of a periodic job is no link of a chain: StopPerpetual, like
// SetNextArgs and SetNextRun, fails in it, saying why, rather than being
// ignored.
func TestAutomaticRunIsNoChain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mw, ran := attempts()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 1, Tasks: []string{stopper.Name()},
		Automatic: []string{stopper.Name()}, Middleware: []localtasks.Middleware{mw}, Logger: quiet, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()

	res, err := b.Wait(ctx, nextAttempt(t, ctx, ran).ID)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Contains(t, res.Value, "StopPerpetual in task", "StopPerpetual failed")
	require.Contains(t, res.Value, "River runs perpetual tasks as periodic jobs", "and says why")
}

// A cron task's times are read in its time zone: noon in New York is
// 17:00 UTC in January. The backend's clock is River's, so a FakeClock
// just before that has River's leader insert the run due at noon.
func TestAutomaticCronTimeZone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	noon := time.Date(2030, 1, 2, 17, 0, 0, 0, time.UTC)
	// Within River's margin of 100 ms of the time, which its enqueuer
	// inserts at its first check.
	clock := localtaskstest.NewFakeClock(noon.Add(-50 * time.Millisecond))
	mw, ran := attempts()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Workers: 2, Tasks: []string{newYorkNoon.Name()},
		Automatic: []string{newYorkNoon.Name()}, Middleware: []localtasks.Middleware{mw}, Clock: clock, Logger: quiet,
		FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()

	// Noon in UTC, five hours earlier, would have River wait for the next
	// day: only noon in New York makes the run come now.
	ex := nextAttempt(t, ctx, ran)
	_, at := periodicRun(t, ctx, b, newYorkNoon.Name(), ex.ID)
	// River schedules a periodic run at its insert when its time is a
	// test's (Config.Clock): within its margin of noon.
	require.WithinDuration(t, noon, at, 100*time.Millisecond)
	require.Equal(t, clock.Now(), at.UTC())
}

// Enqueue refuses a perpetual task, and says what to do, after the checks
// of a perpetual task's options.
func TestEnqueuePerpetualRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t)})
	require.NoError(t, err)
	defer b.Close(ctx)

	for _, task := range []*localtasks.Task[struct{}, string]{everySecond, yearlyOnStart, newYorkNoon} {
		h, err := task.Enqueue(ctx, b, struct{}{})
		require.ErrorIs(t, err, errors.ErrUnsupported, task.Name())
		require.ErrorContains(t, err, "Config.Automatic", task.Name())
		require.ErrorContains(t, err, "remove WithPerpetual", task.Name())
		require.Empty(t, h.ID())
	}
	_, err = everySecond.Using(localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Second, Cron: "@daily"})).Enqueue(ctx, b, struct{}{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask, "a bad perpetual option is still bad")
}

func TestAutomaticConfigErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := newSchema(t)
	cases := []struct {
		name string
		cfg  ltriver.Config
		want string
	}{
		{"no workers", ltriver.Config{Automatic: []string{yearlyOnStart.Name()}}, "Workers is 0"},
		{"empty name", ltriver.Config{Workers: 1, Automatic: []string{""}}, "is empty"},
		{"twice", ltriver.Config{Workers: 1, Automatic: []string{yearlyOnStart.Name(), yearlyOnStart.Name()}}, "twice"},
		{"undefined", ltriver.Config{Workers: 1, Automatic: []string{"river_test.nowhere"}}, "not defined"},
		{"not automatic", ltriver.Config{Workers: 1, Automatic: []string{notAutomatic.Name()}}, "not automatic"},
		{"queue not listed", ltriver.Config{Workers: 1, Automatic: []string{elsewhere.Name()}}, `queue "elsewhere"`},
	}
	for _, c := range cases {
		c.cfg.Schema, c.cfg.Logger = schema, quiet
		if c.cfg.Tasks == nil {
			c.cfg.Tasks = []string{yearlyOnStart.Name()}
		}
		b, err := ltriver.New(ctx, pool, c.cfg)
		require.ErrorIs(t, err, localtasks.ErrConfig, c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.Nil(t, b, c.name)
	}
}
