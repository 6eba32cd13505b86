package river_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

var (
	dueNoop = localtasks.Define("river_test.due-noop", func(ctx context.Context, n int) (int, error) { return n, nil })
	// failIn fails in the worker process of the given ID and succeeds in
	// any other, retried 300 ms after each failure.
	failIn = localtasks.Define("river_test.fail-in", func(ctx context.Context, worker string) (string, error) {
		if os.Getenv(workerEnv) == worker {
			return "", errors.New("not in this process")
		}
		return os.Getenv(workerEnv), nil
	}, localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 20, Delay: 300 * time.Millisecond}))
)

// dueBound is how late, after its time, a deferred run or a retry may
// start in a worker process that neither enqueued it nor failed it, at
// the median of the runs measured.
const dueBound = 100 * time.Millisecond

// startDelay is how long after it was due the job's last attempt started,
// by River's columns (both the database's time).
func startDelay(t *testing.T, ctx context.Context, b *ltriver.Backend, id string) (time.Duration, []string) {
	t.Helper()
	jid, err := strconv.ParseInt(id, 10, 64)
	require.NoError(t, err)
	row, err := b.Client().JobGet(ctx, jid)
	require.NoError(t, err)
	require.NotNil(t, row.AttemptedAt)
	return row.AttemptedAt.Sub(row.ScheduledAt), row.AttemptedBy
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestDueRunsStartOnTimeElsewhere measures how late runs start after
// their run-after time or retry delay, in worker processes that poll for
// jobs at River's default rate (once a second): runs deferred by a process
// that runs no workers, open or closed before they are due, and retries of
// attempts that failed in another worker process.
func TestDueRunsStartOnTimeElsewhere(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	startWorker(t, "worker-b", schema, workerPollEnv+"=1s")
	startWorker(t, "worker-c", schema, workerPollEnv+"=1s")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, reader.Close(context.Background())) })

	deferred := func(t *testing.T, closeFirst bool) {
		// A process that runs no workers defers the runs; with closeFirst
		// it closes before they are due, and the workers must know of
		// them themselves.
		enq, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
		require.NoError(t, err)
		defer func() { require.NoError(t, enq.Close(ctx)) }()
		var ids []string
		for i := range 10 {
			h, err := dueNoop.Using(localtasks.WithDelay(400*time.Millisecond+time.Duration(i)*137*time.Millisecond)).Enqueue(ctx, enq, i)
			require.NoError(t, err)
			ids = append(ids, h.ID())
		}
		if closeFirst {
			require.NoError(t, enq.Close(ctx))
		}
		var delays []time.Duration
		for _, id := range ids {
			h, err := dueNoop.GetResult(ctx, reader, id)
			require.NoError(t, err)
			_, err = h.Wait(ctx)
			require.NoError(t, err)
			d, _ := startDelay(t, ctx, reader, id)
			require.GreaterOrEqual(t, d, time.Duration(0), "run %s started before it was due", id)
			delays = append(delays, d)
		}
		t.Logf("deferred runs, enqueuer closed %v, due to start: %v (median %v)", closeFirst, delays, median(delays))
		require.Less(t, median(delays), dueBound, "deferred runs started late: %v", delays)
	}
	t.Run("deferred", func(t *testing.T) { deferred(t, false) })
	t.Run("deferred by a process gone", func(t *testing.T) { deferred(t, true) })

	t.Run("retry", func(t *testing.T) {
		// Each run fails in worker-b and succeeds in worker-c: measure the
		// retries that worker-c picked up after a failure in worker-b.
		var delays []time.Duration
		for range 40 {
			if len(delays) == 10 {
				break
			}
			h, err := failIn.Enqueue(ctx, reader, "worker-b")
			require.NoError(t, err)
			by, err := h.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, "worker-c", by)
			d, attempted := startDelay(t, ctx, reader, h.ID())
			if len(attempted) < 2 {
				continue // worker-c ran its first attempt: no retry
			}
			require.Equal(t, "worker-b", attempted[len(attempted)-2])
			require.GreaterOrEqual(t, d, time.Duration(0), "retry of run %s started before it was due", h.ID())
			delays = append(delays, d)
		}
		require.NotEmpty(t, delays, "worker-b failed no first attempt in 40 runs")
		t.Logf("retries in another process, due to start: %v (median %v)", delays, median(delays))
		require.Less(t, median(delays), dueBound, "retries started late: %v", delays)
	})
}

// TestDueRunsDeferredBeforeWorkersStarted measures how late runs start
// that were deferred, by a process gone since, before the worker process
// that runs them started: it learns of them when it starts listening.
func TestDueRunsDeferredBeforeWorkersStarted(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, reader.Close(context.Background())) })

	enq, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
	require.NoError(t, err)
	first := time.Now().Add(8 * time.Second) // after the worker process has started
	var ids []string
	for i := range 8 {
		h, err := dueNoop.Using(localtasks.WithRunAt(first.Add(time.Duration(i)*137*time.Millisecond))).Enqueue(ctx, enq, i)
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	require.NoError(t, enq.Close(ctx))
	startWorker(t, "worker-late", schema, workerPollEnv+"=1s")
	require.True(t, time.Now().Before(first), "the worker process took too long to start to measure anything")

	var delays []time.Duration
	for _, id := range ids {
		h, err := dueNoop.GetResult(ctx, reader, id)
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
		d, _ := startDelay(t, ctx, reader, id)
		require.GreaterOrEqual(t, d, time.Duration(0), "run %s started before it was due", id)
		delays = append(delays, d)
	}
	t.Logf("runs deferred before the workers started, due to start: %v (median %v)", delays, median(delays))
	require.Less(t, median(delays), dueBound, "runs started late: %v", delays)
}
