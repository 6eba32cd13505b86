package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// TestWorkerWatchSamples feeds a workerWatch the snapshots of a slot
// replaced in 200 ms, then of READY runs that no serving worker runs for
// 300 ms: what a run missing from the ready queue would look like.
func TestWorkerWatchSamples(t *testing.T) {
	ww := &workerWatch{log: &poolLog{}, starting: make(map[string]time.Time)}
	t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	serving := func(slot string) localtasks.WorkerInfo { return localtasks.WorkerInfo{ID: slot + "/pid-7", PID: 7} }
	starting := func(slot string) localtasks.WorkerInfo { return localtasks.WorkerInfo{ID: slot, Starting: true} }
	snap := func(ms int, ready, running int, restarts uint64, ws ...localtasks.WorkerInfo) localtasks.Snapshot {
		return localtasks.Snapshot{At: t0.Add(time.Duration(ms) * time.Millisecond), Workers: ws,
			Counts:   localtasks.StatusCounts{Ready: ready, Running: running},
			Counters: localtasks.Counters{WorkerRestarts: restarts}}
	}
	ww.sample(snap(0, 5, 1, 0, serving("p/0"), serving("p/1")), 0)
	ww.sample(snap(50, 5, 0, 0, starting("p/0"), serving("p/1")), 0)
	ww.sample(snap(150, 5, 0, 0, starting("p/0"), serving("p/1")), 30*time.Millisecond)
	ww.sample(snap(250, 5, 0, 1, serving("p/0"), serving("p/1")), 0)
	ww.sample(snap(550, 5, 0, 1, serving("p/0"), serving("p/1")), 0)
	ww.sample(snap(600, 4, 1, 1, serving("p/0"), serving("p/1")), 0)
	ww.sample(snap(650, 3, 0, 1, serving("p/0"), serving("p/1")), 0)

	st := ww.Stats()
	require.Equal(t, WorkerStats{Restarts: 1, Starting: 200 * time.Millisecond, LongestStart: 200 * time.Millisecond,
		IdleWithWork: 300 * time.Millisecond, Late: 30 * time.Millisecond}, st)
	require.Contains(t, st.String(), "1 replaced, their slots 200ms starting them (200ms a start on average, 200ms the longest)")

	// A start under way counts as long as it has gone on.
	ww.sample(snap(700, 3, 0, 1, starting("p/0"), serving("p/1")), 0)
	ww.sample(snap(1000, 3, 0, 1, starting("p/0"), serving("p/1")), 0)
	st = ww.Stats()
	require.Equal(t, 300*time.Millisecond, st.LongestStart)
	require.Equal(t, 500*time.Millisecond, st.Starting)
}

// TestPoolLogCountsStartFailures checks that the pool's logger counts the
// failed starts the process pool logs, and only those.
func TestPoolLogCountsStartFailures(t *testing.T) {
	h := &poolLog{}
	log := slog.New(h)
	log.Error(startFailedMessage, "slot", 1, "replacing", true, "err", errors.New("did not start serving within 10s"))
	log.Error(startFailedMessage, "slot", 0, "replacing", true, "err", errors.New("crashed"))
	log.Error("localtasks: something else", "err", errors.New("other"))
	log.Warn(startFailedMessage)
	n, first := h.startFailures()
	require.Equal(t, 2, n)
	require.Equal(t, "did not start serving within 10s", first)
	require.False(t, h.Enabled(context.Background(), slog.LevelWarn), "the pool formats no record it drops")
}

// TestStartFailedMessageIsThePools checks that startFailedMessage is the
// message the process pool logs a failed start with: if it changed, the
// chaos would count no failure.
func TestStartFailedMessageIsThePools(t *testing.T) {
	src, err := os.ReadFile("../procpool.go")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(src), `p.log.Error("`+startFailedMessage+`"`),
		"procpool.go no longer logs a failed start as %q: update startFailedMessage", startFailedMessage)
}

func TestProgressed(t *testing.T) {
	was := localtasks.Counters{Started: 10, Succeeded: 5, Failed: 1, Cancelled: 1, WorkerRestarts: 3}
	require.False(t, progressed(was, was))
	now := was
	now.WorkerRestarts++
	require.False(t, progressed(was, now), "a worker replaced is no progress: a pool may replace workers that take no work")
	now = was
	now.Started++
	require.True(t, progressed(was, now))
	now = was
	now.Cancelled++
	require.True(t, progressed(was, now))
}

// hold is a task that returns at once, or, if its argument says so, runs
// until its ctx ends: a run that makes a pool look stuck.
var hold = localtasks.Define("chaos.test.hold", func(ctx context.Context, forever bool) (int, error) {
	if forever {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 1, nil
})

// TestSettleTellsStuckFromDone checks settlePool's three verdicts on a
// thread pool: a pool that finishes passes; one whose run never ends is
// stuck once it has made no progress for longer than the limit; one still
// within the limit when the chaos must give up is too slow, not stuck.
func TestSettleTellsStuckFromDone(t *testing.T) {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: "chaos-settle-test", Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	defer pool.Close(ctx)
	c := &chaos{pools: [2]localtasks.Controller{pool, pool}, names: [2]string{"thread pool", "thread pool"}}
	settle := func(stall time.Duration) []string {
		var problems []string
		c.settlePool(ctx, 0, stall, func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
		return problems
	}

	_, err = hold.Enqueue(ctx, pool, false)
	require.NoError(t, err)
	require.Empty(t, settle(time.Hour), "a pool that finishes is neither stuck nor slow")

	h, err := hold.Enqueue(ctx, pool, true)
	require.NoError(t, err)
	problems := settle(0)
	require.NotEmpty(t, problems)
	require.Contains(t, problems[0], "the thread pool did not finish: no attempt started and no run finished for")
	require.Contains(t, problems[0], "a run is lost, or a worker takes no work; 0 ready, 0 scheduled, 1 running")
	require.Contains(t, problems[0], "; 2 attempts started, 0 workers replaced; workers: threadpool:chaos-settle-test/0 running "+h.ID()+" (1 done)",
		"the workers say what they run")
	require.Contains(t, problems[1], "unfinished: "+h.ID()+" chaos.test.hold RUNNING")

	c.cfg.GiveUp = time.Now()
	problems = settle(time.Hour)
	require.NotEmpty(t, problems)
	require.Contains(t, problems[0], "still at work when the chaos had to give up")
	require.Contains(t, problems[0], "too slow, not stuck")

	require.NoError(t, pool.Cancel(ctx, h.ID()))
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
}
