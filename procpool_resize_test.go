//go:build unix

package localtasks_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// fifoArgs: the run appends "+" to the file at Ledger as it starts and "-"
// as it ends, if Ledger is set, and, if Wait is set, opens the FIFO at
// Wait for reading, which blocks until the test opens it for writing, and
// returns once the test has closed it (releaseFIFOs): a run in a worker
// process that waits for the test, with no polling.
type fifoArgs struct {
	Wait   string
	Ledger string
}

var fifoTask = localtasks.Define("proc.resize.fifo", func(ctx context.Context, a fifoArgs) (int, error) {
	if a.Ledger != "" {
		if err := appendLine(a.Ledger, "+"); err != nil {
			return 0, err
		}
		defer appendLine(a.Ledger, "-")
	}
	if a.Wait != "" {
		f, err := os.Open(a.Wait)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if _, err := io.Copy(io.Discard, f); err != nil {
			return 0, err
		}
	}
	return os.Getpid(), nil
})

// appendLine appends line to the file at path: a write of a few bytes
// with O_APPEND, which lands whole, in the order the processes made them.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mostAtOnce reads a ledger of "+" and "-" lines and returns the most runs
// that were between their two lines at once.
func mostAtOnce(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	now, most := 0, 0
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "+" {
			now++
		} else {
			now--
		}
		most = max(most, now)
	}
	require.Zero(t, now, "every run that started ended")
	return most
}

// makeFIFOs makes n FIFOs in dir and returns their paths.
func makeFIFOs(t *testing.T, dir string, n int) []string {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("fifo-%d", i))
		require.NoError(t, syscall.Mkfifo(paths[i], 0o600))
	}
	return paths
}

// releaseFIFOs lets the runs waiting on the FIFOs at paths return: it
// opens each FIFO for writing, which waits for its run to open it for
// reading, and once all are open (every run is waiting) closes them, which
// the runs read as the end.
func releaseFIFOs(t *testing.T, ctx context.Context, paths ...string) {
	t.Helper()
	opened := make(chan *os.File, len(paths))
	failed := make(chan error, len(paths))
	for _, path := range paths {
		go func() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				failed <- err
				return
			}
			opened <- f
		}()
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			require.NoError(t, f.Close())
		}
	}()
	for range paths {
		select {
		case f := <-opened:
			files = append(files, f)
		case err := <-failed:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("the runs did not open their FIFOs: %v", ctx.Err())
		}
	}
}

func enqueueFIFO(t *testing.T, ctx context.Context, b localtasks.Backend, args ...fifoArgs) []localtasks.Handle[int] {
	t.Helper()
	var hs []localtasks.Handle[int]
	for _, a := range args {
		h, err := fifoTask.Enqueue(ctx, b, a)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	return hs
}

// requirePIDs waits for each run of hs, which must have succeeded at its
// first attempt, and returns the worker each ran on and its PID.
func requirePIDs(t *testing.T, ctx context.Context, hs []localtasks.Handle[int]) (workers []string, pids []int) {
	t.Helper()
	for i, h := range hs {
		pid, err := h.Wait(ctx)
		require.NoError(t, err, "run %d", i)
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status, "run %d", i)
		require.Equal(t, 1, res.Attempts, "run %d", i)
		require.Len(t, res.WorkerIDs, 1, "run %d ran once", i)
		require.Equal(t, workerPID(t, res), pid)
		workers, pids = append(workers, res.WorkerIDs[0]), append(pids, pid)
	}
	return workers, pids
}

// Growing starts worker processes for the new slots, listed as Starting
// until they are ready, and the runs that waited start on them: here the
// second run, sent to wait behind the first in its worker, is taken back
// for a new worker.
func TestProcessPoolSetMaxWorkersGrowStartsWaitingRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	sub := b.Subscribe(256)
	defer sub.Close()
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	fifos := makeFIFOs(t, dir, 3)
	hs := enqueueFIFO(t, ctx, b, fifoArgs{fifos[0], ledger}, fifoArgs{fifos[1], ledger}, fifoArgs{fifos[2], ledger})
	startedEvent(t, ctx, sub, hs[0].ID())

	require.NoError(t, b.SetMaxWorkers(3))
	require.Equal(t, 3, b.MaxWorkers())
	require.Len(t, snapshotOf(t, b).Workers, 3, "the new slots are listed at once, Starting or ready")
	startedEvents(t, ctx, sub, hs[1].ID(), hs[2].ID())
	releaseFIFOs(t, ctx, fifos...)
	_, pids := requirePIDs(t, ctx, hs)
	require.Len(t, map[int]bool{pids[0]: true, pids[1]: true, pids[2]: true}, 3, "one run on each worker")
	require.Equal(t, 3, mostAtOnce(t, ledger))
	for _, w := range snapshotOf(t, b).Workers {
		require.False(t, w.Starting, "%s is ready", w.ID)
		require.NotZero(t, w.PID)
	}
}

// Shrinking while every worker is busy: the retiring workers give back the
// runs waiting in their windows, which run on the worker that stays; they
// finish their running runs, which succeed, and then exit and are reaped.
// From then on one run at a time runs.
func TestProcessPoolSetMaxWorkersShrinkWhileBusy(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 3, Window: 2})
	dispatched := localtasks.DispatchedForTest(b)
	recalled := localtasks.RecalledForTest(b)
	left := localtasks.LeftForTest(b)
	sub := b.Subscribe(256)
	defer sub.Close()
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	fifos := makeFIFOs(t, dir, 3)

	blockers := enqueueFIFO(t, ctx, b, fifoArgs{Wait: fifos[0]}, fifoArgs{Wait: fifos[1]}, fifoArgs{Wait: fifos[2]})
	slotOf := map[string]string{} // blocker ID to the slot it runs in
	for _, res := range startedEvents(t, ctx, sub, blockers[0].ID(), blockers[1].ID(), blockers[2].ID()) {
		id := res.WorkerIDs[0]
		slotOf[res.ID] = id[:strings.LastIndex(id, "/")]
	}
	require.Len(t, map[string]bool{slotOf[blockers[0].ID()]: true, slotOf[blockers[1].ID()]: true, slotOf[blockers[2].ID()]: true}, 3,
		"a blocker on each worker")
	for range 3 {
		receive(t, ctx, dispatched, "a blocker's dispatch")
	}
	shorts := enqueueFIFO(t, ctx, b, fifoArgs{Ledger: ledger}, fifoArgs{Ledger: ledger}, fifoArgs{Ledger: ledger},
		fifoArgs{Ledger: ledger}, fifoArgs{Ledger: ledger}, fifoArgs{Ledger: ledger})
	for range 3 { // one in each window, behind its blocker; the others stay queued
		receive(t, ctx, dispatched, "a short run's dispatch")
	}

	require.NoError(t, b.SetMaxWorkers(1))
	require.Equal(t, 1, b.MaxWorkers())
	receive(t, ctx, recalled, "a retiring worker giving back a run")
	receive(t, ctx, recalled, "the other retiring worker giving back a run")
	require.Len(t, snapshotOf(t, b).Workers, 3, "the retiring workers are listed until they exit")
	releaseFIFOs(t, ctx, fifos...)

	_, blockerPIDs := requirePIDs(t, ctx, blockers)
	workers, _ := requirePIDs(t, ctx, shorts)
	for _, w := range workers {
		require.True(t, strings.HasPrefix(w, "procpool:private/0/"), "short run on %s, not on the worker that stays", w)
	}
	require.Equal(t, 1, mostAtOnce(t, ledger))
	gone := []int{receive(t, ctx, left, "a retired slot"), receive(t, ctx, left, "the other retired slot")}
	require.ElementsMatch(t, []int{1, 2}, gone)
	for i, h := range blockers {
		if slotOf[h.ID()] != "procpool:private/0" {
			requireGone(t, blockerPIDs[i])
		}
	}
	snap := snapshotOf(t, b)
	require.Len(t, snap.Workers, 1)
	require.True(t, strings.HasPrefix(snap.Workers[0].ID, "procpool:private/0/"))
	require.Empty(t, recalled, "no other run was given back")
}

// Idle workers of retired slots exit at once and are reaped; Close after
// the shrink reaps the worker that stayed.
func TestProcessPoolSetMaxWorkersShrinkIdleThenClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 3})
	require.NoError(t, err)
	left := localtasks.LeftForTest(b)
	pids := map[string]int{}
	for _, w := range snapshotOf(t, b).Workers {
		pids[w.ID[:strings.LastIndex(w.ID, "/")]] = w.PID
	}
	require.Len(t, pids, 3)

	require.NoError(t, b.SetMaxWorkers(1))
	gone := []int{receive(t, ctx, left, "an idle retired slot"), receive(t, ctx, left, "the other")}
	require.ElementsMatch(t, []int{1, 2}, gone)
	requireGone(t, pids["procpool:private/1"])
	requireGone(t, pids["procpool:private/2"])
	ws := snapshotOf(t, b).Workers
	require.Len(t, ws, 1)
	require.Equal(t, pids["procpool:private/0"], ws[0].PID)
	_, ran := requirePIDs(t, ctx, enqueueFIFO(t, ctx, b, fifoArgs{}))
	require.Equal(t, pids["procpool:private/0"], ran[0])

	require.NoError(t, b.Close(ctx))
	require.Equal(t, 0, receive(t, ctx, left, "the last slot, at Close"))
	requireGone(t, pids["procpool:private/0"])
	require.ErrorIs(t, b.SetMaxWorkers(2), localtasks.ErrClosed)
}

// A grow back over a slot whose worker is retiring keeps the slot: once
// the retiring worker has finished its run and exited, the slot starts a
// fresh worker, as it replaces a worker MaxTasksPerWorker retires.
func TestProcessPoolSetMaxWorkersGrowBackRestartsTheSlot(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	left := localtasks.LeftForTest(b)
	sub := b.Subscribe(256)
	defer sub.Close()
	fifos := makeFIFOs(t, t.TempDir(), 4)
	hs := enqueueFIFO(t, ctx, b, fifoArgs{Wait: fifos[0]}, fifoArgs{Wait: fifos[1]})
	startedEvents(t, ctx, sub, hs[0].ID(), hs[1].ID())

	require.NoError(t, b.SetMaxWorkers(1))
	require.NoError(t, b.SetMaxWorkers(2))
	releaseFIFOs(t, ctx, fifos[:2]...)
	_, old := requirePIDs(t, ctx, hs)

	next := enqueueFIFO(t, ctx, b, fifoArgs{Wait: fifos[2]}, fifoArgs{Wait: fifos[3]})
	started := startedEvents(t, ctx, sub, next[0].ID(), next[1].ID())
	require.NotEqual(t, workerPID(t, started[0]), workerPID(t, started[1]), "two workers again")
	releaseFIFOs(t, ctx, fifos[2:]...)
	workers, pids := requirePIDs(t, ctx, next)
	var slot1 []string
	for _, w := range workers {
		if strings.HasPrefix(w, "procpool:private/1/") {
			slot1 = append(slot1, w)
		}
	}
	require.Len(t, slot1, 1, "slot 1 runs again")
	for i, h := range hs {
		res, err := h.Result(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(res.WorkerIDs[0], "procpool:private/1/") {
			require.NotContains(t, pids, old[i], "slot 1 has a fresh worker")
			requireGone(t, old[i])
		}
	}
	require.Empty(t, left, "no slot left")
}

func TestProcessPoolSetMaxWorkersErrors(t *testing.T) {
	t.Parallel()
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	err := b.SetMaxWorkers(0)
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "process pool")
	require.NoError(t, b.SetMaxWorkers(1), "the same size is a no-op")
	require.Len(t, snapshotOf(t, b).Workers, 1)
}

// Resizing again and again while runs stream through the workers' windows
// loses, repeats and fails none: each run given back by a retiring worker
// runs once, elsewhere.
func TestProcessPoolSetMaxWorkersUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	args := make([]fifoArgs, 400)
	hs := enqueueFIFO(t, ctx, b, args...)
	for i, n := range []int{3, 1, 4, 2, 1, 3, 1, 2} {
		_, err := hs[i*40].Wait(ctx)
		require.NoError(t, err)
		require.NoError(t, b.SetMaxWorkers(n))
	}
	requirePIDs(t, ctx, hs)
	require.Equal(t, 2, b.MaxWorkers())
}
