package localtasks_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/wire"
	"github.com/localtasks/localtasks/localtaskstest"
)

// Hostile tasks: what a task does to its worker's process, its pipes and
// its process group must not wedge the pool, its other runs or Close.
var (
	// waitChildTask starts a child that outlives any test, says its PID
	// as its progress, and waits for it, ignoring its ctx: the issue's
	// exec.Command("sleep", "37").Run().
	waitChildTask = localtasks.Define("proc.waitchild", func(ctx context.Context, _ struct{}) (struct{}, error) {
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			return struct{}{}, err
		}
		localtasks.SetProgress(ctx, int64(cmd.Process.Pid), 0, "child started")
		return struct{}{}, cmd.Wait()
	})
	// leaveChildTask starts a child that outlives any test and returns
	// its PID, leaving it running: a fork that outlives a successful task.
	// With detach, the child leaves the worker's process group (a new
	// session), as a daemon the task means to leave behind.
	leaveChildTask = localtasks.Define("proc.leavechild", func(ctx context.Context, detach bool) (int, error) {
		cmd := exec.Command("sleep", "300")
		if detach {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	// silentTask writes the header of a 60 MiB frame on the worker's own
	// stream to the parent, then never returns, ignoring its ctx: the
	// worker lives, and sends nothing the parent can read.
	silentTask = localtasks.Define("proc.silent", func(ctx context.Context, _ struct{}) (struct{}, error) {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 60<<20)
		if _, err := syscall.Write(wire.OutFD, hdr[:]); err != nil {
			return struct{}{}, err
		}
		<-make(chan struct{})
		return struct{}{}, nil
	})
)

// progressPID waits for run id's progress event and returns the PID it
// reported as Done.
func progressPID(t *testing.T, ctx context.Context, sub *localtasks.Subscription, id string) int {
	t.Helper()
	for {
		select {
		case ev := <-sub.C():
			if ev.Kind == localtasks.EventProgress && ev.Result.ID == id {
				return int(ev.Result.Progress.Done)
			}
		case <-ctx.Done():
			t.Fatalf("run %s reported no progress", id)
		}
	}
}

// closeWithin closes b with a ctx of d, fails the test unless Close
// returns by its ctx (with a few seconds' slack to kill and reap the
// workers), and returns Close's error.
func closeWithin(t *testing.T, b localtasks.Backend, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Close(ctx) }()
	const slack = 5 * time.Second
	bound := time.NewTimer(d + slack)
	defer bound.Stop()
	select {
	case err := <-done:
		return err
	case <-bound.C:
		t.Fatalf("Close was still blocked %v after its ctx of %v began", d+slack, d)
		return nil
	}
}

// A task that runs a child and ignores its ctx past its timeout: the
// worker is killed at the end of the grace with its process group, the
// child too; the run fails, the slot gets a fresh worker, the runs behind
// it run, and Close returns. (The child used to hold the worker's pipe to
// the parent, which waited for EOF on it: the run stayed RUNNING, the slot
// empty, and Close blocked past its ctx.)
func TestProcessPoolTaskChildOutlivesTimeout(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}},
		MaxWorkers: 1, CancelGrace: time.Second})
	sub := b.Subscribe(256)
	defer sub.Close()
	h, err := waitChildTask.Using(localtasks.WithTimeout(10*time.Second)).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	var behind []localtasks.Handle[int]
	for range 3 {
		hb, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		behind = append(behind, hb)
	}
	child := progressPID(t, ctx, sub, h.ID())
	require.NoError(t, clock.BlockUntil(ctx, 1), "the timeout's timer")
	clock.Advance(10 * time.Second) // the ctx is cancelled; the task waits on
	require.NoError(t, clock.BlockUntil(ctx, 1), "the grace's timer")
	clock.Advance(time.Second) // the worker's group is killed

	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrTimeout)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	first := workerPID(t, res)
	require.NoError(t, waitExit(child, 20*time.Second), "the task's child died with its worker's process group")
	for _, hb := range behind {
		pid, err := hb.Wait(ctx)
		require.NoError(t, err, "the runs queued behind it run")
		require.NotEqual(t, first, pid, "on a fresh worker")
	}
	require.NoError(t, closeWithin(t, b, 5*time.Second))
}

// Close while a task waits for its child, ignoring its ctx: at the end of
// Close's ctx the worker's process group is killed, the child too, and
// Close returns. (The child used to hold the pipe the parent waited on for
// EOF: Close blocked for as long as the child lived.)
func TestProcessPoolCloseWhileTaskChildRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := waitChildTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	child := progressPID(t, ctx, sub, h.ID())
	require.ErrorIs(t, closeWithin(t, b, time.Second), context.DeadlineExceeded)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.NoError(t, waitExit(child, 20*time.Second), "the task's child died with its worker's process group")
}

// A task that leaves a child running and succeeds: the worker's exit (here
// at MaxTasksPerWorker, then at Close) is known from the exit, the child
// dies with the worker's process group, the slot gets a fresh worker, and
// Close returns by its ctx. (The child used to hold the pipes: the slot
// was never refilled, and Close blocked.)
func TestProcessPoolTaskChildOutlivesSuccess(t *testing.T) {
	t.Parallel()
	t.Run("recycled worker", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 1})
		h, err := leaveChildTask.Enqueue(ctx, b, false)
		require.NoError(t, err)
		child, err := h.Wait(ctx)
		require.NoError(t, err)
		next, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		_, err = next.Wait(ctx)
		require.NoError(t, err, "a fresh worker takes the slot of the one that retired")
		require.NoError(t, waitExit(child, 20*time.Second), "the child died with its worker's process group")
		require.NoError(t, closeWithin(t, b, 5*time.Second))
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
		h, err := leaveChildTask.Enqueue(ctx, b, false)
		require.NoError(t, err)
		child, err := h.Wait(ctx)
		require.NoError(t, err)
		require.NoError(t, closeWithin(t, b, 5*time.Second))
		require.NoError(t, waitExit(child, 20*time.Second), "the child died with its worker's process group")
	})
}

// A child that leaves the worker's process group (Setsid) is a daemon the
// task meant to leave behind: it outlives the worker and Close, which do
// not wait for it.
func TestProcessPoolDetachedChildOutlivesWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	h, err := leaveChildTask.Enqueue(ctx, b, true)
	require.NoError(t, err)
	child, err := h.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, closeWithin(t, b, 5*time.Second))
	t.Cleanup(func() { // it is ours to end
		syscall.Kill(child, syscall.SIGKILL)
		require.NoError(t, waitExit(child, 20*time.Second))
	})
	require.True(t, running(t, child), "the detached child outlived its worker and Close")
}

// running reports whether process pid is alive: it exists, and is not a
// zombie.
func running(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	// pid (comm) state ...: comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// A worker that stops talking without dying (its stream broke off inside a
// frame, and its task runs on with no timeout) is killed by the liveness
// check: the run fails with an error that says why, and the runs behind it
// run on a fresh worker. (It used to stay RUNNING for good, and the runs
// behind it with it.)
func TestProcessPoolSilentWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, LivenessTimeout: time.Second})
	h, err := silentTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	var behind []localtasks.Handle[int]
	for range 3 {
		hb, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		behind = append(behind, hb)
	}
	_, err = h.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit)
	require.Contains(t, exit.KilledBecause, "sent nothing for")
	require.Contains(t, err.Error(), "LivenessTimeout")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	for _, hb := range behind {
		pid, err := hb.Wait(ctx)
		require.NoError(t, err, "the runs queued behind it run")
		require.NotEqual(t, exit.PID, pid, "on a fresh worker")
	}
}

// A worker that runs a long task in silence is not killed: it sends a
// heartbeat while the task runs.
func TestProcessPoolHeartbeatKeepsLongTaskAlive(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, LivenessTimeout: 300 * time.Millisecond,
		Nice: localtasks.ProcessPoolNiceParent})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := waitChildTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	child := progressPID(t, ctx, sub, h.ID())
	// Five liveness timeouts of silence from the task, in real time: the
	// child's own exit, on its pidfd, is the clock.
	require.ErrorIs(t, waitExit(child, 1500*time.Millisecond), os.ErrDeadlineExceeded, "the child runs on")
	snap, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusRunning, snap.Status, "the worker was not killed: %v", snap.Errors)
	syscall.Kill(child, syscall.SIGKILL)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "signal: killed", "the task returns the child's error")
}

// The parent closes its end of each worker's pipes when it reaps the
// worker, not when a garbage collection finds the files: with the
// collector off, recycling workers leaves the count of descriptors as it
// was. Not parallel: it counts the process's descriptors.
func TestProcessPoolClosesPipesOfReapedWorkers(t *testing.T) {
	ctx := testCtx(t)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFDs(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 1})
	require.NoError(t, err)
	const workers = 8
	for range workers {
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, b.Close(ctx))
	// Slack for the runtime's own: the poller's descriptors, made once.
	require.LessOrEqual(t, openFDs(t)-before, 2, "descriptors left open after %d workers were reaped", workers)
}

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(fds)
}
