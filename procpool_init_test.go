//go:build unix

package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/wire"
)

// The worker initialiser of these tests is defined at package level, as
// tasks are, so that the worker processes know it; what it does is set per
// pool, through the workers' environment (ProcessPoolConfig.Env).
const (
	initLogEnv  = "LOCALTASKS_TEST_INIT_LOG"  // a file each run of the initialiser appends its worker's PID to
	initFailEnv = "LOCALTASKS_TEST_INIT_FAIL" // "error", "panic" or "hang": how it fails; or a path: it fails while that file exists
)

var (
	// In a worker: what its initialiser did, as its tasks see it.
	initRuns int
	initPID  int

	testWorkerInit = localtasks.DefineWorkerInit("test.init", func(ctx context.Context) error {
		initRuns++
		initPID = os.Getpid()
		fmt.Fprintln(os.Stderr, "test.init: connecting")
		if path := os.Getenv(initLogEnv); path != "" {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			fmt.Fprintln(f, os.Getpid())
			if err := f.Close(); err != nil {
				return err
			}
		}
		switch v := os.Getenv(initFailEnv); v {
		case "":
		case "error":
			return errors.New("no database at db.invalid:5432")
		case "panic":
			panic("the model file is corrupt")
		case "hang":
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGTERM)
			<-c
		default:
			if _, err := os.Stat(v); err == nil {
				return errors.New("told to fail by " + v)
			}
		}
		return nil
	})

	initStateTask = localtasks.Define("proc.initstate", func(ctx context.Context, _ struct{}) (initState, error) {
		return initState{PID: os.Getpid(), InitPID: initPID, InitRuns: initRuns, InWorker: localtasks.InWorker()}, nil
	})
)

// helloErrEnv makes the test binary, started as a worker, send a hello that
// reports a failed initialiser, as the package is initialised, and exit: a
// worker lying to a pool that has none.
const helloErrEnv = "LOCALTASKS_TEST_HELLO_ERR"

var _ = func() int {
	if os.Getenv(helloErrEnv) != "" && os.Getenv(wire.SpecEnv) != "" {
		w := wire.NewWriter(os.NewFile(wire.OutFD, "out"), 64<<10)
		w.WriteFromWorker(&wire.FromWorker{Kind: wire.KindHello, PID: os.Getpid(), Version: wire.Version,
			Err: &wire.Error{Type: "string", Message: "made up"}})
		w.Flush()
		os.Exit(0)
	}
	return 0
}()

// initState is what a task sees of its process's initialiser.
type initState struct {
	PID, InitPID, InitRuns int
	InWorker               bool
}

// initLog returns the PIDs logged to path by the initialiser's runs.
func initLog(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var pids []int
	for _, line := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(line)
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}

// The initialiser runs once in each worker, before it reports ready, and
// in the worker's process: its tasks see what it did.
func TestWorkerInitRunsOncePerWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	log := filepath.Join(t.TempDir(), "init.log")
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2, WorkerInit: testWorkerInit,
		Env: []string{initLogEnv + "=" + log}})

	pids := initLog(t, log)
	require.Len(t, pids, 2, "one run a worker, each done before NewProcessPool returned")
	require.NotEqual(t, pids[0], pids[1])
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{})
	require.NoError(t, err)
	var workers []int
	for _, w := range snap.Workers {
		workers = append(workers, w.PID)
	}
	require.ElementsMatch(t, pids, workers, "the initialiser ran in the pool's workers")

	var hs []localtasks.Handle[initState]
	for range 20 {
		h, err := initStateTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		st, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Contains(t, pids, st.PID)
		require.Equal(t, st.PID, st.InitPID, "the task's process ran the initialiser")
		require.Equal(t, 1, st.InitRuns, "once a worker")
		require.True(t, st.InWorker)
	}
	require.Len(t, initLog(t, log), 2, "no worker ran it again")
}

// A worker that MaxTasksPerWorker recycles is a new process, which runs
// the initialiser again, once.
func TestWorkerInitRunsInReplacements(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	log := filepath.Join(t.TempDir(), "init.log")
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 1, WorkerInit: testWorkerInit,
		Env: []string{initLogEnv + "=" + log}})
	var seen []int
	for range 3 {
		h, err := initStateTask.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		st, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, st.PID, st.InitPID)
		require.Equal(t, 1, st.InitRuns)
		require.NotContains(t, seen, st.PID, "a fresh worker for each task")
		seen = append(seen, st.PID)
	}
	require.Subset(t, initLog(t, log), seen, "each worker logged its run")
}

// An initialiser that fails, or panics, in every worker fails
// NewProcessPool with an error that names it and carries its message, and
// no worker is started again: each worker ran it once.
func TestWorkerInitFailure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode, typ, message, text string
		panics                   bool
	}{
		{"error", "*errors.errorString", "no database at db.invalid:5432", `its worker initialiser "test.init" (ProcessPoolConfig.WorkerInit) failed: no database at db.invalid:5432`, false},
		{"panic", "string", "the model file is corrupt", `its worker initialiser "test.init" (ProcessPoolConfig.WorkerInit) panicked: the model file is corrupt`, true},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			log := filepath.Join(t.TempDir(), "init.log")
			b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2, WorkerInit: testWorkerInit,
				Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}, Env: []string{initLogEnv + "=" + log, initFailEnv + "=" + c.mode}})
			require.Nil(t, b)
			require.ErrorContains(t, err, c.text)
			var ie *localtasks.WorkerInitError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, "test.init", ie.Name)
			require.Equal(t, c.typ, ie.Type)
			require.Equal(t, c.message, ie.Message)
			require.Equal(t, c.panics, ie.Stack != "", "a panic keeps its stack: %q", ie.Stack)
			require.Contains(t, ie.Stderr, "test.init: connecting", "what it wrote to stderr comes with the error")

			pids := initLog(t, log)
			require.Len(t, pids, 2, "each worker ran it once, and none was started again")
			require.Contains(t, pids, ie.PID)
			for _, pid := range pids {
				requireGone(t, pid)
			}
		})
	}
}

// StartTimeout bounds the initialiser with the rest of a worker's start,
// and its error names it.
func TestWorkerInitStartTimeout(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: testWorkerInit, StartTimeout: time.Second,
		Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}, Env: []string{initFailEnv + "=hang"}})
	require.ErrorContains(t, err, `did not start serving within 1s (ProcessPoolConfig.StartTimeout), and was killed. `+
		`If the program takes that long to reach Init and run its worker initialiser "test.init", raise StartTimeout`)
}

// A replacement worker whose initialiser fails is logged, with the
// initialiser's name and message, and tried again after a wait, as any
// worker that fails to start; once the initialiser succeeds, the new
// worker serves.
func TestWorkerInitFailsInReplacement(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	fail := filepath.Join(t.TempDir(), "fail")
	logs := newCapture()
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: testWorkerInit,
		Config: localtasks.Config{Logger: slog.New(logs)}, Env: []string{initFailEnv + "=" + fail}})

	h, err := initStateTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	first, err := h.Wait(ctx)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(fail, nil, 0o600))
	dies, err := exitTask.Enqueue(ctx, b, exitArgs{Code: 7, OnAttempts: 1})
	require.NoError(t, err)
	rec := logs.await(t, ctx, "localtasks: starting a worker process")
	require.Contains(t, rec["err"], `its worker initialiser "test.init" (ProcessPoolConfig.WorkerInit) failed: told to fail by `+fail)
	require.Equal(t, "true", rec["replacing"])
	require.NoError(t, os.Remove(fail))

	// Not before: if the worker died before the parent heard the run
	// start, the run waits to run again, alone, on the next worker.
	_, err = dies.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit)

	h, err = initStateTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	st, err := h.Wait(ctx)
	require.NoError(t, err, "a later start succeeds")
	require.NotEqual(t, first.PID, st.PID)
	require.Equal(t, st.PID, st.InitPID)
	require.Equal(t, 1, st.InitRuns)
}

// InWorker is true in a process-pool worker, and false in the parent and
// in the tasks of a thread pool, which run in the parent.
func TestInWorker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	require.False(t, localtasks.InWorker(), "the test binary's parent process")

	procs := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := initStateTask.Enqueue(ctx, procs, struct{}{})
	require.NoError(t, err)
	st, err := h.Wait(ctx)
	require.NoError(t, err)
	require.True(t, st.InWorker, "a process-pool task")
	require.Zero(t, st.InitRuns, "a pool without WorkerInit runs none")

	threads := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	h, err = initStateTask.Enqueue(ctx, threads, struct{}{})
	require.NoError(t, err)
	st, err = h.Wait(ctx)
	require.NoError(t, err)
	require.False(t, st.InWorker, "a thread-pool task")
	require.Equal(t, os.Getpid(), st.PID)
}

// A hello that reports a failed initialiser to a pool that has none is no
// worker's hello.
func TestWorkerInitFailureWithoutInit(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}, Env: []string{helloErrEnv + "=1"}})
	require.ErrorContains(t, err, "did not start serving: its hello reported a failed worker initialiser (made up), but the pool has no WorkerInit")
	require.NotErrorAs(t, err, new(*localtasks.WorkerInitError))
}

var lateInits atomic.Int64

// A WorkerInit must come from DefineWorkerInit at package level: one
// defined after Init, which the workers do not know, or a bare value is a
// configuration error; DefineWorkerInit refuses an empty or taken name and
// a nil function.
func TestWorkerInitRules(t *testing.T) {
	t.Parallel()
	late := localtasks.DefineWorkerInit(fmt.Sprintf("test.late.%d", lateInits.Add(1)), func(context.Context) error { return nil })
	_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: late})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, fmt.Sprintf("WorkerInit %q was defined at", late.Name()))
	require.ErrorContains(t, err, "after localtasks.Init() ran")
	require.ErrorContains(t, err, "procpool_init_test.go")

	_, err = localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, WorkerInit: &localtasks.WorkerInit{}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "DefineWorkerInit")

	noop := func(context.Context) error { return nil }
	for name, define := range map[string]func(){
		"an empty name": func() { localtasks.DefineWorkerInit("", noop) },
		"a nil func":    func() { localtasks.DefineWorkerInit("test.nil", nil) },
		"a taken name":  func() { localtasks.DefineWorkerInit("test.init", noop) },
	} {
		var msg any
		func() {
			defer func() { msg = recover() }()
			define()
		}()
		require.NotNil(t, msg, name)
		require.Contains(t, fmt.Sprint(msg), "localtasks: ", name)
		if name == "a taken name" {
			require.Contains(t, fmt.Sprint(msg), "procpool_init_test.go", "both places are named")
		}
	}
}
