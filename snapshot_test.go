package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// failingOnce fails its first attempt.
var failingOnce = localtasks.Define("test.failingOnce-once", func(ctx context.Context, _ struct{}) (int, error) {
	if localtasks.Attempt(ctx) == 1 {
		return 0, errors.New("first attempt fails")
	}
	return 2, nil
}, localtasks.WithRetry(localtasks.FixedRetry(2, 0)))

func TestCountersAndDrain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	hd, err := failingOnce.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.NoError(t, b.Drain(ctx))
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	require.Equal(t, localtasks.Counters{Enqueued: 1, Started: 2, Succeeded: 1, Retried: 1}, b.Counters())
	require.NoError(t, b.Drain(ctx), "nothing to wait for")

	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer rec.Close(ctx)
	require.ErrorIs(t, rec.Drain(ctx), errors.ErrUnsupported, "a recording backend never drains")

	blocked := newPool(t, localtasks.ThreadPoolConfig{})
	hb, err := localtaskstest.Block.Enqueue(ctx, blocked, struct{}{})
	require.NoError(t, err)
	short, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, blocked.Drain(short), context.Canceled, "Drain gives up when its ctx ends")
	require.NoError(t, hb.Cancel(ctx)) // else Close would wait for it
	require.NoError(t, blocked.Drain(ctx))
}

// The thread pool's snapshot lists its goroutines, and what each has done.
func TestThreadPoolSnapshotWorkers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3})
	for range 10 {
		_, err := failingOnce.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	snap := snapshotOf(t, b)
	require.Len(t, snap.Workers, 3)
	var done int
	for _, w := range snap.Workers {
		require.Zero(t, w.PID)
		require.Empty(t, w.Running)
		done += w.TasksDone
	}
	require.Equal(t, 20, done, "ten runs of two attempts")
	require.Len(t, snap.Finished, 10)
}

// snapshotOf lists every run of b, on one page.
func snapshotOf(t testing.TB, b localtasks.Snapshotter) localtasks.Snapshot {
	t.Helper()
	snap, err := b.Snapshot(context.Background(), localtasks.SnapshotOptions{Limit: localtasks.SnapshotLimitMax})
	require.NoError(t, err)
	require.Empty(t, snap.NextCursor, "every run listed on one page")
	return snap
}

// backlog returns a recording backend, which runs nothing, holding n READY
// runs of Echo, n/4 SCHEDULED, and n/10 CANCELLED, and the IDs of the
// unfinished ones.
func backlog(t *testing.T, n int) (*localtasks.RecordingBackend, map[string]localtasks.Status) {
	t.Helper()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t))) })
	ids := map[string]localtasks.Status{}
	for i := range n {
		h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
		ids[h.ID()] = localtasks.StatusReady
		if i%4 == 0 {
			h, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
			require.NoError(t, err)
			ids[h.ID()] = localtasks.StatusScheduled
		}
		if i%10 == 0 {
			require.NoError(t, h.Cancel(ctx))
			delete(ids, h.ID())
		}
	}
	return b, ids
}

// Paging through a backlog that does not change lists every run once,
// whatever the page size, and the counts count them all.
func TestSnapshotPagesVisitEveryRunOnce(t *testing.T) {
	t.Parallel()
	const n = 5000 // over several chunks of the index, in every shard
	b, ids := backlog(t, n)
	ctx := testCtx(t)
	for _, limit := range []int{1, 7, 100, 1024, localtasks.SnapshotLimitMax} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			seen := map[string]int{}
			finished := 0
			opts := localtasks.SnapshotOptions{Limit: limit}
			for pages := 0; ; pages++ {
				require.Less(t, pages, 2*n/limit+2, "the listing ends")
				snap, err := b.Snapshot(ctx, opts)
				require.NoError(t, err)
				require.Equal(t, localtasks.StatusCounts{Ready: n - n/10, Scheduled: n / 4, Cancelled: n / 10}, snap.Counts)
				page := slices.Concat(snap.Running, snap.Queued, snap.Scheduled)
				require.LessOrEqual(t, len(page)+len(snap.Finished), limit)
				for _, res := range page {
					require.Equal(t, ids[res.ID], res.Status, "run %s", res.ID)
					seen[res.ID]++
				}
				finished += len(snap.Finished)
				if snap.NextCursor == "" {
					break
				}
				require.Len(t, slices.Concat(page, snap.Finished), limit, "only a full page has a next")
				opts.Cursor = snap.NextCursor
			}
			require.Len(t, seen, len(ids), "every unfinished run listed")
			for id, k := range seen {
				require.Equal(t, 1, k, "run %s listed once", id)
			}
			require.Equal(t, min(localtasks.SnapshotFinishedMax, n/10), finished, "and the most recent finishes")
		})
	}
}

// A filter is applied before a run is copied: listing the few runs that
// match among many allocates for those few.
func TestSnapshotCopiesOnlyWhatMatches(t *testing.T) {
	// Not parallel: it measures the heap allocated while it lists.
	ctx := testCtx(t)
	b, _ := backlog(t, 20_000)
	few, err := localtaskstest.Echo.Using(localtasks.WithQueue(localtasks.QueueDefault), localtasks.WithKey("needle")).
		Enqueue(ctx, b, localtaskstest.EchoArgs{N: -1})
	require.NoError(t, err)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Key: "needle", Limit: localtasks.SnapshotLimitMax})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Len(t, snap.Queued, 1)
	require.Equal(t, few.ID(), snap.Queued[0].ID)
	require.Empty(t, snap.NextCursor)
	// A copy of each of the 25,000 runs would be megabytes.
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<10), "bytes allocated")

	for _, c := range []struct {
		opts localtasks.SnapshotOptions
		want int
	}{
		{localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusScheduled}}, 5000},
		{localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning, localtasks.StatusFailed}}, 0},
		{localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusCancelled}}, localtasks.SnapshotFinishedMax},
		{localtasks.SnapshotOptions{Task: "test.none"}, 0},
		{localtasks.SnapshotOptions{Queue: "elsewhere"}, 0},
		{localtasks.SnapshotOptions{Task: localtaskstest.Echo.Name(), Key: "needle"}, 1},
	} {
		n, pages := 0, 0
		opts := c.opts
		opts.Limit = 3000
		for {
			snap, err := b.Snapshot(ctx, opts)
			require.NoError(t, err)
			pages++
			for _, res := range slices.Concat(snap.Running, snap.Queued, snap.Scheduled, snap.Finished) {
				if len(c.opts.Statuses) > 0 {
					require.Contains(t, c.opts.Statuses, res.Status)
				}
				n++
			}
			if opts.Cursor = snap.NextCursor; opts.Cursor == "" {
				break
			}
		}
		require.Equal(t, c.want, n, "%+v", c.opts)
		require.LessOrEqual(t, pages, c.want/3000+2)
	}
}

func TestSnapshotInvalidOptions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	valid, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	require.NoError(t, err)
	require.Empty(t, valid.NextCursor)
	for _, opts := range []localtasks.SnapshotOptions{
		{Limit: -1},
		{Limit: localtasks.SnapshotLimitMax + 1},
		{Statuses: []localtasks.Status{0}},
		{Statuses: []localtasks.Status{localtasks.StatusCancelled + 1}},
		{Cursor: "nonsense"},
		{Cursor: "MS45LjA"},             // "1.9.0": no such group
		{Cursor: "Mi4wLjA"},             // "2.0.0": another version
		{Cursor: "MS4wLjE5MDAwMDAwMDA"}, // shard 25
	} {
		_, err := b.Snapshot(ctx, opts)
		require.ErrorIs(t, err, localtasks.ErrInvalidSnapshotOptions, "%+v", opts)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.Snapshot(cancelled, localtasks.SnapshotOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

// The counts follow runs through every status, evictions from the result
// store and Clear.
func TestSnapshotCounts(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2, Config: localtasks.Config{MaxResults: 3}})
	counts := func() localtasks.StatusCounts {
		t.Helper()
		snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
		require.NoError(t, err)
		require.NoError(t, localtasks.CheckCountsForTest(b))
		return snap.Counts
	}
	release := occupy(t, b, 2)
	require.Equal(t, localtasks.StatusCounts{Running: 2}, counts())
	var later []localtasks.Handle[localtaskstest.EchoArgs]
	for i := range 5 {
		_, err := failingOnce.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		h, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour), localtasks.WithKey(fmt.Sprint(i))).Enqueue(ctx, b, localtaskstest.EchoArgs{})
		require.NoError(t, err)
		later = append(later, h)
	}
	require.Equal(t, localtasks.StatusCounts{Running: 2, Ready: 5, Scheduled: 5}, counts())
	close(release)
	for _, h := range later {
		require.NoError(t, h.Cancel(ctx))
	}
	require.NoError(t, b.Drain(ctx))
	got := counts()
	require.Equal(t, localtasks.StatusCounts{Successful: 3, Cancelled: 3}, got,
		"twelve finished: three successes kept (MaxResults), and three cancelled (MaxFailedResults, which defaults to MaxResults)")

	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer rec.Close(ctx)
	h, err := localtaskstest.Echo.Enqueue(ctx, rec, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	_, err = localtaskstest.Echo.Enqueue(ctx, rec, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	require.NoError(t, h.Cancel(ctx))
	snap, err := rec.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCounts{Ready: 1, Cancelled: 1}, snap.Counts)
	rec.Clear()
	snap, err = rec.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCounts{}, snap.Counts, "Clear forgets them")
	require.Empty(t, slices.Concat(snap.Queued, snap.Finished))
	require.NoError(t, localtasks.CheckCountsForTest(rec))
}

// Each queue's depth, its READY and SCHEDULED runs, counts the runs its
// pause or its QueueWorkers hold back, and follows them as they start,
// finish or are cancelled.
func TestSnapshotQueueDepth(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3, Config: localtasks.Config{
		Queues: []string{"default", "bulk"}, QueueWorkers: map[string]int{"default": 1}}})
	queues := func() []localtasks.QueueInfo {
		t.Helper()
		snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
		require.NoError(t, err)
		require.NoError(t, localtasks.CheckCountsForTest(b))
		return snap.Queues
	}
	require.Equal(t, []localtasks.QueueInfo{{Name: "default", MaxWorkers: 1}, {Name: "bulk"}}, queues())

	require.NoError(t, b.Pause(ctx, localtasks.Pause{Queue: "bulk"}))
	release := occupied(t, b) // on "default", its one worker
	var later []localtasks.Handle[localtaskstest.EchoArgs]
	for i := range 3 {
		_, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i}) // held by QueueWorkers
		require.NoError(t, err)
		_, err = localtaskstest.Echo.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, b, localtaskstest.EchoArgs{N: i}) // held by the pause
		require.NoError(t, err)
		h, err := localtaskstest.Echo.Using(localtasks.WithQueue("bulk"), localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
		later = append(later, h)
	}
	h, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	later = append(later, h)
	require.Equal(t, []localtasks.QueueInfo{
		{Name: "default", MaxWorkers: 1, Ready: 3, Scheduled: 1, Running: 1},
		{Name: "bulk", Ready: 3, Scheduled: 3, Paused: true},
	}, queues())

	release()
	require.NoError(t, b.Resume(ctx, localtasks.Pause{Queue: "bulk"}))
	for _, h := range later {
		require.NoError(t, h.Cancel(ctx))
	}
	require.NoError(t, b.Drain(ctx))
	require.Equal(t, []localtasks.QueueInfo{{Name: "default", MaxWorkers: 1}, {Name: "bulk"}}, queues())
}

// Listings while runs are enqueued, run and evicted on every side: the
// counts stay right (the race detector watches the rest), and once the
// work is over they count what is left.
func TestSnapshotWhileRunsChange(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 3, Config: localtasks.Config{MaxResults: 50}})
	const n = 3000
	done := make(chan struct{})
	var listed atomic.Int64
	var wg sync.WaitGroup
	for _, opts := range []localtasks.SnapshotOptions{{Limit: 10}, {Statuses: []localtasks.Status{localtasks.StatusReady}, Limit: 500}} {
		wg.Go(func() {
			o := opts
			for {
				select {
				case <-done:
					return
				default:
				}
				snap, err := b.Snapshot(ctx, o)
				if err != nil {
					panic(err)
				}
				listed.Add(int64(len(snap.Queued) + len(snap.Running) + len(snap.Finished)))
				o.Cursor = snap.NextCursor
			}
		})
	}
	for i := range n {
		_, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
	}
	require.NoError(t, b.Drain(ctx))
	close(done)
	wg.Wait()
	require.NoError(t, localtasks.CheckCountsForTest(b))
	snap := snapshotOf(t, b)
	require.Equal(t, localtasks.StatusCounts{Successful: 50}, snap.Counts)
	require.Len(t, snap.Finished, 50)
	require.Positive(t, listed.Load())
}

// benchBacklog returns a recording backend holding n READY runs.
func benchBacklog(b *testing.B, n int) *localtasks.RecordingBackend {
	b.Helper()
	ctx := context.Background()
	rec, err := localtasks.NewRecording(localtasks.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rec.Close(ctx) })
	for i := range n {
		if _, err := localtaskstest.Echo.Enqueue(ctx, rec, localtaskstest.EchoArgs{N: i}); err != nil {
			b.Fatal(err)
		}
	}
	return rec
}

// BenchmarkSnapshotPage measures the first page of 100 runs of a backlog
// of 100,000: what the dashboard asks for. Its cost does not grow with the
// backlog.
func BenchmarkSnapshotPage(b *testing.B) {
	rec := benchBacklog(b, 100_000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Snapshot(ctx, localtasks.SnapshotOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotRunningAmongQueued lists the RUNNING runs, none, of a
// backlog of 100,000 READY ones: the counts say no chunk holds one, and
// nothing is read.
func BenchmarkSnapshotRunningAmongQueued(b *testing.B) {
	rec := benchBacklog(b, 100_000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Snapshot(ctx, localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotTaskMiss lists the runs of a task that has none among
// a backlog of 100,000 READY runs of another: the worst case, every READY
// run read, 256 a trip to the lock; ns/op / 391 trips is a trip's time.
func BenchmarkSnapshotTaskMiss(b *testing.B) {
	rec := benchBacklog(b, 100_000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Snapshot(ctx, localtasks.SnapshotOptions{Task: "bench.none"}); err != nil {
			b.Fatal(err)
		}
	}
}

// A page lists what its options select, and the workers still show every
// run they run.
func TestSnapshotWorkersRunWhateverThePage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2})
	release := occupy(t, b, 2)
	defer close(release)
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusSuccessful}, Limit: 1})
	require.NoError(t, err)
	require.Empty(t, slices.Concat(snap.Running, snap.Queued, snap.Finished))
	require.Equal(t, 2, snap.Counts.Running)
	require.Len(t, snap.Workers, 2)
	for _, w := range snap.Workers {
		require.Len(t, w.Running, 1, "worker %s", w.ID)
	}
}
