//go:build unix

package localtasks_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// Tasks for the process pool: defined at package level, so that the worker
// processes, which run no more of the test binary than TestMain's Init,
// know them too.
var (
	pidTask = localtasks.Define("proc.pid", func(ctx context.Context, _ struct{}) (int, error) {
		return os.Getpid(), nil
	})
	exitTask = localtasks.Define("proc.exit", func(ctx context.Context, a exitArgs) (int, error) {
		if localtasks.Attempt(ctx) <= a.OnAttempts {
			os.Exit(a.Code)
		}
		return os.Getpid(), nil
	})
	crashTask = localtasks.Define("proc.crash", func(ctx context.Context, msg string) (struct{}, error) {
		go func() { panic(msg) }() // outside the task's recover: the process dies
		<-ctx.Done()
		return struct{}{}, nil
	})
	spinTask = localtasks.Define("proc.spin", func(ctx context.Context, _ struct{}) (struct{}, error) {
		for { // ignores its ctx: only killing the worker stops it
		}
	})
	hogTask = localtasks.Define("proc.hog", func(ctx context.Context, mib int) (int, error) {
		var keep [][]byte
		for range mib {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i)
			}
			keep = append(keep, b)
		}
		return len(keep), nil
	})
	printTask = localtasks.Define("proc.print", func(ctx context.Context, s string) (string, error) {
		fmt.Println("stdout " + s)
		localtasks.Logger(ctx).Info("logged "+s, "k", "v")
		return s, nil
	})
	niceTask = localtasks.Define("proc.nice", func(ctx context.Context, _ struct{}) (int, error) {
		return niceness()
	})
	bytesTask = localtasks.Define("proc.bytes", func(ctx context.Context, b []byte) (int, error) {
		return len(b), nil
	})
	bigResultTask = localtasks.Define("proc.bigresult", func(ctx context.Context, n int) ([]byte, error) {
		return make([]byte, n), nil
	})
	chanTask = localtasks.Define("proc.chan", func(ctx context.Context, c chan int) (int, error) {
		return 0, nil
	})
	hiddenTask = localtasks.Define("proc.hidden", func(ctx context.Context, h hidden) (int, error) {
		return h.n, nil
	})
)

type exitArgs struct {
	Code       int
	OnAttempts int // exit on attempts up to this one
}

type hidden struct{ n int }

// processPoolSupported: the process pool runs on Unix only (see
// procpool_other_test.go).
const processPoolSupported = true

func newProcPool(t *testing.T, cfg localtasks.ProcessPoolConfig) *localtasks.ProcessPoolBackend {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // the crash tests' stderr is loud
	}
	b, err := localtasks.NewProcessPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t))) })
	return b
}

var pidPattern = regexp.MustCompile(`pid-(\d+)$`)

// workerPID returns the PID of the worker of a run's last attempt.
func workerPID(t *testing.T, res localtasks.TaskResult) int {
	t.Helper()
	require.NotEmpty(t, res.WorkerIDs)
	m := pidPattern.FindStringSubmatch(res.WorkerIDs[len(res.WorkerIDs)-1])
	require.NotNil(t, m, "worker ID %q names its process", res.WorkerIDs[len(res.WorkerIDs)-1])
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// startedEvent waits for the started event of a run and returns its snapshot.
func startedEvent(t *testing.T, ctx context.Context, sub *localtasks.Subscription, id string) localtasks.TaskResult {
	t.Helper()
	for {
		select {
		case ev := <-sub.C():
			if ev.Kind == localtasks.EventStarted && ev.Result.ID == id {
				return ev.Result
			}
		case <-ctx.Done():
			t.Fatalf("run %s did not start", id)
		}
	}
}

// startedEvents waits for the started events of all of ids, in any order.
func startedEvents(t *testing.T, ctx context.Context, sub *localtasks.Subscription, ids ...string) []localtasks.TaskResult {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var got []localtasks.TaskResult
	for len(got) < len(ids) {
		select {
		case ev := <-sub.C():
			if ev.Kind == localtasks.EventStarted && want[ev.Result.ID] {
				delete(want, ev.Result.ID)
				got = append(got, ev.Result)
			}
		case <-ctx.Done():
			t.Fatalf("runs %v did not start", want)
		}
	}
	return got
}

func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "worker process %d outlived Close", pid)
}

func TestProcessPoolRunsInWorkerProcesses(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	h, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	pid, err := h.Wait(ctx)
	require.NoError(t, err)
	require.NotEqual(t, os.Getpid(), pid, "the task ran in another process")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, pid, workerPID(t, res), "WorkerIDs name the worker's process")
}

func TestProcessPoolWorkerExitFailsOnlyItsTask(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := exitTask.Enqueue(ctx, b, exitArgs{Code: 7, OnAttempts: 1})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit, "the task fails with its worker's death")
	require.Equal(t, 7, exit.ExitCode)
	require.Contains(t, err.Error(), "exited with code 7")

	// The pool keeps serving, on a new worker.
	next, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	pid, err := next.Wait(ctx)
	require.NoError(t, err)
	require.NotEqual(t, exit.PID, pid)
}

func TestProcessPoolRetryRunsOnFreshWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := exitTask.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).Enqueue(ctx, b, exitArgs{Code: 1, OnAttempts: 1})
	require.NoError(t, err)
	pid, err := h.Wait(ctx)
	require.NoError(t, err, "the second attempt succeeds")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Len(t, res.WorkerIDs, 2)
	require.NotEqual(t, res.WorkerIDs[0], res.WorkerIDs[1], "the retry ran on a fresh worker")
	require.Equal(t, pid, workerPID(t, res))
	require.Contains(t, res.Errors[0].Message, "exited with code 1")
}

func TestProcessPoolSIGKILLFromOutside(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	pid := workerPID(t, startedEvent(t, ctx, sub, h.ID()))
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	_, err = h.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, "killed", exit.Signal)
	require.Contains(t, err.Error(), "killed by signal killed")

	for range 4 { // both slots still serve
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
	}
}

func TestProcessPoolPanicOutsideRecover(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := crashTask.Enqueue(ctx, b, "unrecovered boom")
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode, "the Go runtime's exit code for a crash")
	require.Contains(t, err.Error(), "panic: unrecovered boom", "the crash's own words come with the error")
	_, err = pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
}

func TestProcessPoolTimeoutKillsRunawayTask(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1, CancelGrace: 3 * time.Second})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := spinTask.Using(localtasks.WithTimeout(10*time.Second)).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	pid := workerPID(t, startedEvent(t, ctx, sub, h.ID()))
	require.NoError(t, clock.BlockUntil(ctx, 1), "the timeout's timer")
	clock.Advance(10 * time.Second) // the ctx is cancelled; the loop ignores it
	require.NoError(t, clock.BlockUntil(ctx, 1), "the grace's timer")
	clock.Advance(3 * time.Second) // the worker is killed
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrTimeout)
	require.Contains(t, err.Error(), "grace")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)

	next, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	newPID, err := next.Wait(ctx)
	require.NoError(t, err)
	require.NotEqual(t, pid, newPID, "a new worker replaced the killed one")
}

// With the default CancelGrace, a runaway loop under a short timeout is
// killed a quarter of the timeout after it (at least 100 ms), not 5 s.
func TestProcessPoolGraceScalesWithTimeout(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := spinTask.Using(localtasks.WithTimeout(200*time.Millisecond)).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	startedEvent(t, ctx, sub, h.ID())
	require.NoError(t, clock.BlockUntil(ctx, 1), "the timeout's timer")
	clock.Advance(200 * time.Millisecond) // the ctx is cancelled; the loop ignores it
	require.NoError(t, clock.BlockUntil(ctx, 1), "the grace's timer")
	clock.Advance(99 * time.Millisecond)
	require.Equal(t, 1, clock.Pending(), "the grace lasts 100 ms")
	clock.Advance(time.Millisecond) // the worker is killed
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = h.Wait(wctx)
	require.ErrorIs(t, err, localtasks.ErrTimeout)
	require.ErrorContains(t, err, "did not return within the grace of 100ms")
}

func TestProcessPoolCancelKillsRunawayTask(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0))
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1, CancelGrace: time.Second})
	sub := b.Subscribe(64)
	defer sub.Close()
	h, err := spinTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	startedEvent(t, ctx, sub, h.ID())
	require.NoError(t, h.Cancel(ctx))
	require.NoError(t, clock.BlockUntil(ctx, 1), "the grace's timer")
	clock.Advance(time.Second)
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
}

func TestProcessPoolMemoryLimit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MemoryLimit: 64 << 20})
	h, err := hogTask.Enqueue(ctx, b, 256)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrMemoryLimit)
	require.Contains(t, err.Error(), "memory limit of 67108864 bytes")

	small, err := hogTask.Enqueue(ctx, b, 8)
	require.NoError(t, err)
	n, err := small.Wait(ctx)
	require.NoError(t, err, "a task within the limit runs on the replacement worker")
	require.Equal(t, 8, n)
}

// A task the workers do not define, though defined before Init in the
// parent (on a code path the workers do not take), fails its run with an
// error that says where to define it.
func TestProcessPoolUnknownTask(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := parentOnlyTask.Enqueue(ctx, b, 1)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "is not defined in the worker process")
	require.ErrorContains(t, err, "package level")
}

func TestProcessPoolRefusesUnencodableArguments(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	sub := b.Subscribe(16)
	defer sub.Close()
	_, err := chanTask.Enqueue(ctx, b, make(chan int))
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, `"proc.chan"`)
	require.ErrorContains(t, err, "chan int")
	_, err = hiddenTask.Enqueue(ctx, b, hidden{n: 1})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "localtasks_test.hidden")
	require.ErrorContains(t, err, "no exported fields")
	select {
	case ev := <-sub.C():
		t.Fatalf("a refused task was queued: %+v", ev)
	default:
	}
}

func TestProcessPoolConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  localtasks.ProcessPoolConfig
		want string
	}{
		{"negative workers", localtasks.ProcessPoolConfig{MaxWorkers: -1}, "MaxWorkers -1"},
		{"negative window", localtasks.ProcessPoolConfig{Window: -1}, "Window -1"},
		{"nice above 19", localtasks.ProcessPoolConfig{Nice: 20}, "Nice 20"},
		{"nice below the parent sentinel", localtasks.ProcessPoolConfig{Nice: -2}, "Nice -2"},
		{"memory limit below 16 MiB", localtasks.ProcessPoolConfig{MemoryLimit: 1 << 20}, "16 MiB"},
		{"frame limit below 64 KiB", localtasks.ProcessPoolConfig{MaxFrameBytes: 1000}, "64 KiB"},
		{"negative cancel grace", localtasks.ProcessPoolConfig{CancelGrace: -time.Second}, "CancelGrace"},
		{"liveness timeout below 100 ms", localtasks.ProcessPoolConfig{LivenessTimeout: time.Millisecond}, "LivenessTimeout 1ms"},
		{"negative liveness timeout", localtasks.ProcessPoolConfig{LivenessTimeout: -time.Second}, "LivenessTimeout -1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := localtasks.NewProcessPool(c.cfg)
			require.ErrorIs(t, err, localtasks.ErrConfig, c.want)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestProcessPoolFrameLimit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxFrameBytes: 64 << 10})
	_, err := bytesTask.Enqueue(ctx, b, make([]byte, 100<<10))
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "MaxFrameBytes")

	h, err := bigResultTask.Enqueue(ctx, b, 100<<10)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "above the limit", "a result too large to send fails its task")
	ok, err := bytesTask.Enqueue(ctx, b, make([]byte, 1<<10))
	require.NoError(t, err)
	n, err := ok.Wait(ctx)
	require.NoError(t, err, "the worker and its stream survive")
	require.Equal(t, 1<<10, n)
}

func TestProcessPoolMissingInit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, mode string }{
		{"worker exits at once", "exit"},
		{"worker serves something else", "hang"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mode := c.mode
			start := time.Now()
			_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2, StartTimeout: 2 * time.Second,
				Env: []string{testWorkerEnv + "=" + mode}})
			require.Error(t, err, mode)
			require.ErrorContains(t, err, "must call localtasks.Init() as the first statement of main", mode)
			require.NotContains(t, err.Error(), `backend ""`)
			require.Less(t, time.Since(start), 10*time.Second, "%s: construction fails within a few seconds", mode)
		})
	}
}

func TestProcessPoolRecyclesWorkers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 2})
	var pids []int
	for range 6 {
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		pid, err := h.Wait(ctx)
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	require.Equal(t, pids[0], pids[1])
	require.Equal(t, pids[2], pids[3])
	require.Equal(t, pids[4], pids[5])
	require.NotEqual(t, pids[1], pids[2], "a new worker after two tasks")
	require.NotEqual(t, pids[3], pids[4])
	requireGone(t, pids[0])
}

// Workers run at a lower priority than the parent, by default the lowest:
// Nice is an increment over the parent's niceness, capped at 19, and
// ProcessPoolNiceParent keeps the parent's.
func TestProcessPoolNice(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Fatalf("no niceness check for %s", runtime.GOOS)
	}
	base, err := niceness()
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		nice int
		want int
	}{
		{"by default, the lowest priority", 0, 19},
		{"an increment over the parent's", 10, min(base+10, 19)},
		{"the parent's", localtasks.ProcessPoolNiceParent, base},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, Nice: c.nice})
			h, err := niceTask.Enqueue(ctx, b, struct{}{})
			require.NoError(t, err)
			n, err := h.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, c.want, n)
		})
	}
}

// A worker that cannot apply the pool's settings makes NewProcessPool fail
// with an error that says so, not one that blames a missing Init.
func TestProcessPoolSettingsFailure(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, StartTimeout: 5 * time.Second,
		Env: []string{testWorkerEnv + "=settings"}})
	require.ErrorContains(t, err, "could not apply the pool's settings")
	require.ErrorContains(t, err, "setting the nice level", "the worker's own words")
	require.NotContains(t, err.Error(), "Init()")
}

func TestProcessPoolForwardsOutputAndLogs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	logs := newCapture()
	b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Logger: slog.New(logs)}, MaxWorkers: 1})
	h, err := printTask.Enqueue(ctx, b, "xyzzy")
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	out := logs.await(t, ctx, "stdout xyzzy")
	require.Equal(t, "stdout", out["stream"])
	require.Equal(t, h.ID(), out["task_id"], "a line of output is tagged with its task")
	logged := logs.await(t, ctx, "logged xyzzy")
	require.Equal(t, "v", logged["k"])
	require.Equal(t, h.ID(), logged["task_id"], "Logger(ctx) in a worker reaches the parent's logger")
	require.Equal(t, "1", logged["attempt"])
}

func TestProcessPoolPriorityAcrossWindow(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, Window: 2})
	sub := b.Subscribe(256)
	defer sub.Close()
	blocker, err := localtaskstest.Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	startedEvent(t, ctx, sub, blocker.ID())
	var ids []string
	for _, p := range []int{0, 0, 0, 50} {
		h, err := pidTask.Using(localtasks.WithPriority(p)).Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	require.NoError(t, blocker.Cancel(ctx))
	var order []string
	for len(order) < 4 {
		select {
		case ev := <-sub.C():
			if ev.Kind == localtasks.EventStarted && ev.Result.ID != blocker.ID() {
				order = append(order, ev.Result.ID)
			}
		case <-ctx.Done():
			t.Fatal("tasks did not start")
		}
	}
	// The high-priority task passes every low-priority one still queued
	// (the first may already be in the worker's window), and those keep
	// their order.
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	require.Less(t, pos[ids[3]], pos[ids[1]])
	require.Less(t, pos[ids[3]], pos[ids[2]])
	require.Less(t, pos[ids[0]], pos[ids[1]])
	require.Less(t, pos[ids[1]], pos[ids[2]])
}

func TestProcessPoolCloseWithTasksInFlight(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	sub := b.Subscribe(64)
	var pids []int
	var hs []localtasks.Handle[struct{}]
	for range 2 {
		h, err := spinTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, res := range startedEvents(t, ctx, sub, hs[0].ID(), hs[1].ID()) {
		pids = append(pids, workerPID(t, res))
	}
	queued, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = b.Close(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the spinning tasks did not finish in time")
	for _, h := range append(hs, localtasks.Handle[struct{}]{}) {
		if h.ID() == "" {
			continue
		}
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status)
	}
	st, err := queued.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, st)
	for _, pid := range pids {
		requireGone(t, pid)
	}
}

func TestProcessPoolGracefulClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2})
	require.NoError(t, err)
	var pids []int
	for range 4 {
		h, err := pidTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		pid, err := h.Wait(ctx)
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	require.NoError(t, b.Close(ctx))
	for _, pid := range pids {
		requireGone(t, pid)
	}
}

// capture is a slog.Handler that keeps records, for tests to wait on.
type capture struct {
	mu      sync.Mutex
	records []map[string]string
	changed chan struct{}
}

func newCapture() *capture { return &capture{changed: make(chan struct{})} }

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *capture) WithGroup(string) slog.Handler            { return c }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, m)
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// await waits for a record with message msg.
func (c *capture) await(t *testing.T, ctx context.Context, msg string) map[string]string {
	t.Helper()
	for {
		c.mu.Lock()
		for _, r := range c.records {
			if r["msg"] == msg {
				c.mu.Unlock()
				return r
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no log record %q", msg)
		}
	}
}
