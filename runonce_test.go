package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

var (
	// pollPage is perpetual: it passes the next page on, fails the first
	// attempt at page 13, and stops the chain at a negative page.
	pollPage = localtasks.Define("test.runonce.poll", func(ctx context.Context, page int) (string, error) {
		if page < 0 {
			return "stopped", localtasks.StopPerpetual(ctx)
		}
		if err := localtasks.SetNextArgs(ctx, page+1); err != nil {
			return "", err
		}
		if page == 13 && localtasks.Attempt(ctx) == 1 {
			return "", errors.New("unlucky")
		}
		return fmt.Sprintf("%s page %d attempt %d", localtasks.TaskID(ctx), page, localtasks.Attempt(ctx)), nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute}), localtasks.WithRetry(localtasks.FixedRetry(2, time.Hour)))

	// parisMorning is a cron task, at 9:30 in Paris.
	parisMorning = localtasks.Define("test.runonce.cron", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithCron("30 9 * * *", paris))
)

// onceRunner is what ImmediateBackend and RecordingBackend have.
type onceRunner interface {
	localtasks.Controller
	RunOnce(ctx context.Context, task localtasks.Definition, args any) (localtasks.RunOnceResult, error)
}

// RunOnce runs one run of a perpetual task through the middleware, with a
// task ctx, retries back to back, on both backends that have it, and says
// what would follow without enqueueing it.
func TestRunOnce(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		new  func(localtasks.Config) (onceRunner, error)
	}{
		{"immediate", func(cfg localtasks.Config) (onceRunner, error) { return localtasks.NewImmediate(cfg) }},
		{"recording", func(cfg localtasks.Config) (onceRunner, error) { return localtasks.NewRecording(cfg) }},
	}
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			start := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC) // 11:00 in Paris
			clock := localtaskstest.NewFakeClock(start)
			var mu sync.Mutex
			var seen []localtasks.Execution
			mw := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
				mu.Lock()
				seen = append(seen, ex)
				mu.Unlock()
				return next(ctx)
			}
			b, err := bk.new(localtasks.Config{Middleware: []localtasks.Middleware{mw}, Test: localtasks.TestConfig{Clock: clock}})
			require.NoError(t, err)
			defer func() { require.NoError(t, b.Close(ctx)) }()
			sub := b.Subscribe(64)
			defer sub.Close()

			r, err := b.RunOnce(ctx, pollPage.Definition(), 13)
			require.NoError(t, err)
			res, err := b.Wait(ctx, r.ID)
			require.NoError(t, err, "the run has finished")
			require.Equal(t, localtasks.StatusSuccessful, res.Status)
			require.Equal(t, r.ID+" page 13 attempt 2", res.Value, "its ctx carries its ID and attempt")
			require.Equal(t, 2, res.Attempts, "the failed attempt was retried at once, not an hour later")
			require.Empty(t, res.Key, "it holds no key")
			mu.Lock()
			require.Len(t, seen, 2, "each attempt through the middleware")
			require.Equal(t, localtasks.Execution{ID: r.ID, Task: pollPage.Name(), Attempt: 2, Queue: localtasks.QueueDefault, Args: 13}, seen[1])
			mu.Unlock()
			require.Equal(t, start.Add(time.Minute), r.Next, "its interval from the end of the run")
			require.Equal(t, 14, r.NextArgs, "SetNextArgs's argument")
			h, err := pollPage.GetResult(ctx, b, r.ID)
			require.NoError(t, err)
			v, err := h.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, res.Value, v)

			stopped, err := b.RunOnce(ctx, pollPage.Definition(), -1)
			require.NoError(t, err)
			require.Zero(t, stopped.Next, "StopPerpetual ends the chain")
			require.Nil(t, stopped.NextArgs)

			cron, err := b.RunOnce(ctx, parisMorning.Definition(), struct{}{})
			require.NoError(t, err)
			require.Equal(t, time.Date(2030, 3, 2, 9, 30, 0, 0, paris), cron.Next, "the next cron time after the run")
			require.True(t, cron.Next.Equal(time.Date(2030, 3, 2, 8, 30, 0, 0, time.UTC)))

			// Nothing was enqueued for the successors, and the events are a
			// run's: enqueued, started, finished.
			snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
			require.NoError(t, err)
			require.Empty(t, snap.Queued)
			require.Empty(t, snap.Scheduled)
			require.Equal(t, uint64(3), snap.Counters.Enqueued)
			require.Equal(t, uint64(3), snap.Counters.Succeeded)
			require.Zero(t, snap.Counters.Perpetuated)
			var kinds []localtasks.EventKind
			for len(kinds) < 4 {
				select {
				case ev := <-sub.C():
					if ev.Result.ID == r.ID {
						kinds = append(kinds, ev.Kind)
					}
				case <-ctx.Done():
					t.Fatalf("only the events %v came", kinds)
				}
			}
			require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued, localtasks.EventStarted, localtasks.EventStarted, localtasks.EventFinished}, kinds)
			if rb, ok := b.(*localtasks.RecordingBackend); ok {
				require.Empty(t, rb.Recorded(), "Recorded lists what was enqueued, not what RunOnce ran")
			}
		})
	}
}

// On a recording backend, RunOnce runs a task whose chain Config.Automatic
// started: the chain keeps its key and its scheduled run.
func TestRunOnceBesideAChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{Automatic: []string{parisMorning.Name()}})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()
	r, err := b.RunOnce(ctx, parisMorning.Definition(), struct{}{})
	require.NoError(t, err)
	res, err := b.GetResult(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	runs := b.Recorded()
	require.Len(t, runs, 1)
	require.Equal(t, localtasks.StatusScheduled, runs[0].Status, "the chain's run waits still")
	require.Equal(t, parisMorning.Name(), runs[0].Key)
}

func TestRunOnceRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	_, err = b.RunOnce(ctx, notPerpetual.Definition(), struct{}{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, `RunOnce "test.not-perpetual": the task is not perpetual`)
	_, err = b.RunOnce(ctx, pollPage.Definition(), "one")
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "takes arguments of type int")
	_, err = b.RunOnce(ctx, heartbeat.Definition(), struct{}{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, `its queue "test.heartbeat" is not one of backend`)
	require.ErrorContains(t, err, "add it to the backend's Config.Queues")
	_, err = b.RunOnce(ctx, nil, 1)
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.RunOnce(done, pollPage.Definition(), 1)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, b.Counters().Enqueued, "nothing ran")
	require.NoError(t, b.Close(ctx))
	_, err = b.RunOnce(ctx, pollPage.Definition(), 1)
	require.ErrorIs(t, err, localtasks.ErrClosed)
}
