package localtasks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A journaled task's gate: its runs with a Gate name tell started, then
// wait for release to close (or their ctx to end).
type jGate struct {
	started chan string
	release chan struct{}
	once    sync.Once
}

// open releases the gate's runs, once.
func (g *jGate) open() { g.once.Do(func() { close(g.release) }) }

var jGates sync.Map // name → *jGate

func newJGate(t *testing.T) string {
	name := t.Name()
	jGates.Store(name, &jGate{started: make(chan string, 16), release: make(chan struct{})})
	t.Cleanup(func() { jGates.Delete(name) })
	return name
}

func jGateOf(name string) *jGate {
	g, _ := jGates.Load(name)
	return g.(*jGate)
}

type jArgs struct {
	Name string
	Gate string
}

var (
	journaled = localtasks.Define("test.journaled", func(ctx context.Context, a jArgs) (string, error) {
		if a.Gate != "" {
			g := jGateOf(a.Gate)
			g.started <- a.Name
			select {
			case <-g.release:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "done " + a.Name, nil
	})
	journaledEvery = localtasks.Define("test.journaled-every", func(ctx context.Context, n int) (int, error) {
		if err := localtasks.SetNextArgs(ctx, n+1); err != nil {
			return 0, err
		}
		return n, nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))

	// opaque has an argument gob cannot encode: no exported field.
	opaque = localtasks.Define("test.opaque", func(ctx context.Context, a struct{ n int }) (int, error) { return a.n, nil })
)

func journalPool(t *testing.T, name string, j localtasks.Journal, clock localtasks.Clock, workers int) *localtasks.ThreadPoolBackend {
	t.Helper()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers,
		Config: localtasks.Config{Name: name, Journal: j, Test: localtasks.TestConfig{Clock: clock}}})
	require.NoError(t, err)
	return b
}

// closeNow closes b without waiting for its running runs.
func closeNow(t *testing.T, b localtasks.Backend) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = b.Close(ctx)
}

// A program that dies with runs queued, scheduled, running and finished
// finds them all when it starts again on the journal: the queued and
// scheduled ones resume, the running one starts a second attempt with the
// first recorded as interrupted, the finished one is a result by ID, and
// keys are held.
func TestJournalRestartResumesEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := newJGate(t)
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)

	fin, err := journaled.Enqueue(ctx, b, jArgs{Name: "fin"})
	require.NoError(t, err)
	_, err = fin.Wait(ctx)
	require.NoError(t, err)
	// The clock moves between enqueues: a restart queues the runs again
	// in the order of their enqueue times.
	clock.Advance(time.Millisecond)
	running, err := journaled.Enqueue(ctx, b, jArgs{Name: "running", Gate: gate})
	require.NoError(t, err)
	require.Equal(t, "running", <-jGateOf(gate).started)
	clock.Advance(time.Millisecond)
	ready, err := journaled.Enqueue(ctx, b, jArgs{Name: "ready"})
	require.NoError(t, err)
	clock.Advance(time.Millisecond)
	keyed, err := journaled.Using(localtasks.WithKey("k")).Enqueue(ctx, b, jArgs{Name: "keyed"})
	require.NoError(t, err)
	clock.Advance(time.Millisecond)
	later, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: "later"})
	require.NoError(t, err)

	// The program dies: what the journal holds now is all that is left.
	j2 := j.Crash()
	closeNow(t, b)

	clock2 := localtaskstest.NewFakeClock(localtaskstest.Epoch.Add(time.Minute))
	b2 := journalPool(t, t.Name(), j2, clock2, 1)
	defer b2.Close(ctx)
	defer jGateOf(gate).open() // before Close, should the test fail

	res, err := b2.GetResult(ctx, fin.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, "done fin", res.Value)

	// The interrupted run is the first to start again, and holds the
	// only worker: the others wait, and the key is held.
	require.Equal(t, "running", <-jGateOf(gate).started)
	again, err := journaled.Using(localtasks.WithKey("k")).Enqueue(ctx, b2, jArgs{Name: "keyed again"})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, again.Disposition())
	require.Equal(t, keyed.ID(), again.ID())
	res, err = b2.GetResult(ctx, later.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, localtaskstest.Epoch.Add(time.Hour+4*time.Millisecond), res.RunAfter)

	jGateOf(gate).open()
	for _, h := range []localtasks.Handle[string]{running, ready, keyed} {
		res, err := b2.Wait(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status, res.ID)
	}
	res, err = b2.GetResult(ctx, running.ID())
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Len(t, res.Errors, 1)
	require.Equal(t, 1, res.Errors[0].Attempt)
	require.Contains(t, res.Errors[0].Message, "interrupted by a restart")

	require.NoError(t, clock2.BlockUntil(ctx, 1))
	clock2.Advance(time.Hour)
	res, err = b2.Wait(ctx, later.ID())
	require.NoError(t, err)
	require.Equal(t, "done later", res.Value)
}

// Close keeps the queued and scheduled runs queued in the journal, where it
// cancels them in memory, and an abandoned running run stays running there:
// all of them resume on the next backend of the journal.
func TestJournalCloseKeepsQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := newJGate(t)
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	running, err := journaled.Enqueue(ctx, b, jArgs{Name: "running", Gate: gate})
	require.NoError(t, err)
	<-jGateOf(gate).started
	ready, err := journaled.Enqueue(ctx, b, jArgs{Name: "ready"})
	require.NoError(t, err)
	later, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: "later"})
	require.NoError(t, err)
	closeNow(t, b)

	res, err := b.GetResult(ctx, ready.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status, "in memory, Close cancels")
	for id, want := range map[string]localtasks.Status{running.ID(): localtasks.StatusRunning,
		ready.ID(): localtasks.StatusReady, later.ID(): localtasks.StatusScheduled} {
		r, ok := j.Run(id)
		require.True(t, ok)
		require.Equal(t, want, r.Status)
		require.True(t, r.FinishedAt.IsZero())
	}

	jGateOf(gate).open()
	b2 := journalPool(t, t.Name(), j, clock, 1)
	defer b2.Close(ctx)
	for _, id := range []string{running.ID(), ready.ID()} {
		res, err := b2.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
	}
	res, err = b2.GetResult(ctx, later.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
}

// In the durable mode, a run is in the journal when Enqueue returns.
func TestJournalDurableEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	b := journalPool(t, t.Name(), j, nil, 2)
	defer b.Close(ctx)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				h, err := journaled.Enqueue(ctx, b, jArgs{Name: "x"})
				if err != nil {
					t.Error(err)
					return
				}
				if _, ok := j.Run(h.ID()); !ok {
					t.Errorf("run %d of goroutine %d: Enqueue returned before its run was committed", i, g)
				}
			}
		})
	}
	wg.Wait()
}

// A failed commit fails the Enqueue that waited for it: its run is
// cancelled before it starts.
func TestJournalCommitFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := newJGate(t)
	j := localtaskstest.NewMemoryJournal()
	b := journalPool(t, t.Name(), j, nil, 1)
	defer b.Close(ctx)
	defer jGateOf(gate).open()
	_, err := journaled.Enqueue(ctx, b, jArgs{Name: "blocker", Gate: gate})
	require.NoError(t, err)
	<-jGateOf(gate).started

	j.FailCommits(errors.New("disk full"))
	_, err = journaled.Enqueue(ctx, b, jArgs{Name: "lost"})
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, "disk full")
	require.ErrorContains(t, err, "nothing was queued")
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, snap.Counts.Running)
	require.Equal(t, 0, snap.Counts.Ready)
	require.Equal(t, 1, snap.Counts.Cancelled)

	j.FailCommits(nil)
	jGateOf(gate).open()
	h, err := journaled.Enqueue(ctx, b, jArgs{Name: "kept"})
	require.NoError(t, err)
	v, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, "done kept", v)
}

// Strikes in force survive a restart, and lifting one is journaled.
func TestJournalStrikes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	b := journalPool(t, t.Name(), j, nil, 1)
	st := localtasks.Strike{Task: journaled.Name(), Field: "Name", Op: localtasks.OpEqual, Value: "bad"}
	require.NoError(t, b.Strike(st))
	require.NoError(t, b.Close(ctx))

	b2 := journalPool(t, t.Name(), j, nil, 1)
	require.Equal(t, []localtasks.Strike{st}, b2.Strikes())
	h, err := journaled.Enqueue(ctx, b2, jArgs{Name: "bad"})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, h.Disposition())
	require.NoError(t, b2.Restore(st))
	require.NoError(t, b2.Close(ctx))

	b3 := journalPool(t, t.Name(), j, nil, 1)
	defer b3.Close(ctx)
	require.Empty(t, b3.Strikes())
}

// A perpetual chain goes on after a restart, once: the successor its last
// run left in the journal, and no second chain.
func TestJournalPerpetualChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	sub := b.Subscribe(64)
	defer sub.Close()
	first, err := journaledEvery.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	_, err = first.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx)) // the successor is scheduled: Close keeps it in the journal

	var chain []localtasks.JournalRun
	for _, r := range j.Runs() {
		if r.Task == journaledEvery.Name() && !r.Status.Finished() {
			chain = append(chain, r)
		}
	}
	require.Len(t, chain, 1)
	require.Equal(t, localtasks.StatusScheduled, chain[0].Status)

	b2 := journalPool(t, t.Name(), j, clock, 1)
	defer b2.Close(ctx)
	again, err := journaledEvery.Enqueue(ctx, b2, 100)
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, again.Disposition(), "the chain holds its key")
	require.Equal(t, chain[0].ID, again.ID())
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	v, err := again.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v, "the successor has the argument its predecessor set")
}

// A run of a task the program no longer defines fails as the backend
// starts, with an error naming the task.
func TestJournalMissingTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	b := journalPool(t, t.Name(), j, localtaskstest.NewFakeClock(localtaskstest.Epoch), 1)
	h, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: "x"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))
	r, ok := j.Run(h.ID())
	require.True(t, ok)
	r.Task = "test.no-longer-defined"
	require.NoError(t, j.Commit(ctx, &localtasks.JournalBatch{Runs: []localtasks.JournalRun{r}}))

	b2 := journalPool(t, t.Name(), j, nil, 1)
	defer b2.Close(ctx)
	res, err := b2.GetResult(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Contains(t, res.Errors[0].Message, `task "test.no-longer-defined" is not defined in this program`)
}

// A journal is refused if it holds another backend's runs, or runs in
// another format; and a backend that does not queue takes none.
func TestJournalRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	_, err := j.Open(ctx, "other", localtasks.JournalFormat)
	require.NoError(t, err)
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: t.Name(), Journal: j}})
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, `holds the runs of backend "other"`)

	j = localtaskstest.NewMemoryJournal()
	_, err = j.Open(ctx, t.Name(), localtasks.JournalFormat+1)
	require.NoError(t, err)
	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: t.Name(), Journal: j}})
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, "start with a new journal")

	_, err = localtasks.NewImmediate(localtasks.Config{Name: t.Name(), Journal: localtaskstest.NewMemoryJournal()})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	_, err = localtasks.NewRecording(localtasks.Config{Name: t.Name(), Journal: localtaskstest.NewMemoryJournal()})
	require.ErrorIs(t, err, localtasks.ErrConfig)
}

// A journaled run's argument must be encodable: one that is not is refused
// at Enqueue, as on a process pool.
func TestJournalRefusesUnencodable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := journalPool(t, t.Name(), localtaskstest.NewMemoryJournal(), nil, 1)
	defer b.Close(ctx)
	_, err := opaque.Enqueue(ctx, b, struct{ n int }{1})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "a backend with a journal writes each argument and result to it gob-encoded")
}

// The journal holds no more finished runs than the result store: those it
// drops are deleted.
func TestJournalDeletesEvicted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: t.Name(), Journal: j, MaxResults: 2}})
	require.NoError(t, err)
	var last []string
	for i := range 5 {
		h, err := journaled.Enqueue(ctx, b, jArgs{Name: string(rune('a' + i))})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
		last = append(last, h.ID())
	}
	require.NoError(t, b.Close(ctx))
	var ids []string
	for _, r := range j.Runs() {
		ids = append(ids, r.ID)
	}
	require.Equal(t, last[3:], ids)
}

// On a process pool too, queued runs and results survive: the argument is
// the bytes the workers are sent.
func TestJournalProcessPool(t *testing.T) {
	t.Parallel()
	if !processPoolSupported {
		t.Skip("the process pool runs on Unix only")
	}
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	open := func() *localtasks.ProcessPoolBackend {
		b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1,
			Config: localtasks.Config{Name: t.Name(), Journal: j, Test: localtasks.TestConfig{Clock: clock}}})
		require.NoError(t, err)
		return b
	}
	b := open()
	done, err := journaled.Enqueue(ctx, b, jArgs{Name: "done"})
	require.NoError(t, err)
	_, err = done.Wait(ctx)
	require.NoError(t, err)
	later, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: "later"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	b2 := open()
	defer b2.Close(ctx)
	res, err := b2.GetResult(ctx, done.ID())
	require.NoError(t, err)
	require.Equal(t, "done done", res.Value)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	res, err = b2.Wait(ctx, later.ID())
	require.NoError(t, err)
	require.Equal(t, "done later", res.Value)
}

var journaledAuto = localtasks.Define("test.journaled-auto", func(ctx context.Context, _ struct{}) (struct{}, error) {
	return struct{}{}, nil
}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour, Automatic: true}))

// An automatic chain that a backend started resumes from the journal, and
// the next backend's start of it finds it there: no second chain.
func TestJournalAutomaticChainNoDuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	open := func() *localtasks.ThreadPoolBackend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{
			Name: t.Name(), Journal: j, Automatic: []string{journaledAuto.Name()}, Test: localtasks.TestConfig{Clock: clock}}})
		require.NoError(t, err)
		return b
	}
	chain := func() []localtasks.JournalRun {
		var runs []localtasks.JournalRun
		for _, r := range j.Runs() {
			if r.Task == journaledAuto.Name() && !r.Status.Finished() {
				runs = append(runs, r)
			}
		}
		return runs
	}
	b := open()
	require.NoError(t, clock.BlockUntil(ctx, 1)) // the first run ran, its successor waits an hour
	require.NoError(t, b.Close(ctx))
	first := chain()
	require.Len(t, first, 1)

	for range 2 {
		b := open()
		require.NoError(t, b.Close(ctx))
		require.Equal(t, first, chain(), "a start found the chain, and made no other")
	}
}

// In the batched mode Enqueue does not wait for the commit, which comes
// within the window, and at the latest as the backend closes.
func TestJournalBatched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func(j localtasks.Journal) *localtasks.ThreadPoolBackend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{
			Name: t.Name(), Journal: j, JournalMode: localtasks.JournalBatched, JournalWindow: time.Millisecond}})
		require.NoError(t, err)
		return b
	}
	j := localtaskstest.NewMemoryJournal()
	b := open(j)
	var ids []string
	for i := range 50 {
		h, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{Name: string(rune('a' + i))})
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	require.NoError(t, b.Close(ctx))
	c := b.Counters()
	require.Positive(t, c.JournalCommits)
	require.LessOrEqual(t, c.JournalCommits, uint64(51))
	require.GreaterOrEqual(t, c.JournalRows, uint64(50))
	require.Len(t, j.Runs(), 50)
	for i, r := range j.Runs() {
		require.Equal(t, ids[i], r.ID)
		require.Equal(t, localtasks.StatusScheduled, r.Status)
	}

	// A failing journal does not fail a batched Enqueue: it counts and
	// logs the failure.
	j = localtaskstest.NewMemoryJournal()
	j.FailCommits(errors.New("disk full"))
	b = open(j)
	_, err := journaled.Enqueue(ctx, b, jArgs{Name: "x"})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))
	require.Positive(t, b.Counters().JournalFailures)
	require.Empty(t, j.Runs())
}

var journaledCron = localtasks.Define("test.journaled-cron", func(ctx context.Context, _ struct{}) (struct{}, error) {
	return struct{}{}, nil
}, localtasks.WithPerpetual(localtasks.Perpetual{Cron: "0 * * * *"}))

// The catch-up policy: a cron chain whose times passed while no program
// ran makes one run for all of them as the backend starts, and goes on at
// the next time its expression names.
func TestJournalCronCatchUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch) // 03:04:05
	b := journalPool(t, t.Name(), j, clock, 1)
	h, err := journaledCron.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	later := localtaskstest.Epoch.Add(72 * time.Hour) // 72 missed hours
	clock2 := localtaskstest.NewFakeClock(later)
	b2 := journalPool(t, t.Name(), j, clock2, 1)
	defer b2.Close(ctx)
	res, err := b2.Wait(ctx, h.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, later, res.StartedAt, "the missed times make one run, at the start")
	require.Equal(t, localtaskstest.Epoch.Truncate(time.Hour).Add(time.Hour), res.RunAfter)

	require.NoError(t, clock2.BlockUntil(ctx, 1))
	snap, err := b2.Snapshot(ctx, localtasks.SnapshotOptions{Task: journaledCron.Name(),
		Statuses: []localtasks.Status{localtasks.StatusScheduled}})
	require.NoError(t, err)
	require.Len(t, snap.Scheduled, 1)
	require.Equal(t, later.Truncate(time.Hour).Add(time.Hour), snap.Scheduled[0].RunAfter, "then the next time the expression names")
	require.Equal(t, 1, snap.Counts.Successful)
}

// A batched backend lets no more than JournalBatchMax runs wait for a
// commit: the Enqueue that makes them that many commits them, long before
// the window ends.
func TestJournalBatchedBackpressure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{
		Name: t.Name(), Journal: j, JournalMode: localtasks.JournalBatched, JournalWindow: time.Hour}})
	require.NoError(t, err)
	defer b.Close(ctx)
	later := journaled.Using(localtasks.WithDelay(time.Hour))
	for range localtasks.JournalBatchMax {
		_, err := later.Enqueue(ctx, b, jArgs{})
		require.NoError(t, err)
	}
	require.Len(t, j.Runs(), localtasks.JournalBatchMax, "committed without waiting an hour")
	require.Equal(t, uint64(1), b.Counters().JournalCommits)
}

// dueSoon is a journal whose SCHEDULED runs come back due a moment from
// now, so that their timer fires while the backend is still starting.
type dueSoon struct {
	*localtaskstest.MemoryJournal
	due time.Duration
}

func (j *dueSoon) Load(ctx context.Context, run func(*localtasks.JournalRun) error, strike func(*localtasks.JournalStrike) error) error {
	return j.MemoryJournal.Load(ctx, func(r *localtasks.JournalRun) error {
		if r.Status == localtasks.StatusScheduled {
			r.RunAfter = time.Now().Add(j.due)
		}
		return run(r)
	}, strike)
}

// A process pool whose restored runs come due while it starts its workers
// has no data race (found by the chaos run's kill-restart phase: the
// timer's push read the process pool before its constructor set it under
// the lock).
func TestJournalProcessPoolTimerDuringStart(t *testing.T) {
	t.Parallel()
	if !processPoolSupported {
		t.Skip("the process pool runs on Unix only")
	}
	ctx := context.Background()
	j := &dueSoon{MemoryJournal: localtaskstest.NewMemoryJournal()}
	cfg := localtasks.ProcessPoolConfig{MaxWorkers: 1, Config: localtasks.Config{Name: t.Name(), Journal: j}}
	b, err := localtasks.NewProcessPool(cfg)
	require.NoError(t, err)
	for range 10 {
		_, err := journaled.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, jArgs{})
		require.NoError(t, err)
	}
	require.NoError(t, b.Close(ctx))
	for i := range 20 {
		j.due = time.Duration(i%10) * 20 * time.Microsecond
		b, err := localtasks.NewProcessPool(cfg)
		require.NoError(t, err)
		require.NoError(t, b.Close(ctx))
	}
}

// A journal holds the runs of one named backend: a backend without a Name
// takes none.
func TestJournalNeedsAName(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Journal: localtaskstest.NewMemoryJournal()}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "a Journal needs a Name")
}
