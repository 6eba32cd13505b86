package localtasks_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/crashtest"
	"github.com/localtasks/localtasks/internal/osproc"
)

var segvTask = localtasks.Define("proc.segv", func(ctx context.Context, _ struct{}) (struct{}, error) {
	crashtest.Segfault()
	return struct{}{}, nil
})

func TestProcessPoolSegfaultInCgo(t *testing.T) {
	t.Parallel()
	if !crashtest.Available {
		t.Fatal("this test needs cgo: build with CGO_ENABLED=1 and a C compiler (.ci/run installs gcc)")
	}
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := segvTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	var exit *localtasks.WorkerExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode, "the Go runtime's exit code for a crash")
	require.Contains(t, err.Error(), "SIGSEGV")
	next, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = next.Wait(ctx)
	require.NoError(t, err, "the pool keeps serving")
}

// testParentEnv makes the test binary a parent with a process pool: it
// prints its worker's PID and waits to be killed.
const testParentEnv = "LOCALTASKS_TEST_PARENT"

func runTestParent() {
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	h, err := pidTask.Enqueue(context.Background(), b, struct{}{})
	if err != nil {
		panic(err)
	}
	pid, err := h.Wait(context.Background())
	if err != nil {
		panic(err)
	}
	os.Stdout.WriteString(strconv.Itoa(pid) + "\n")
	select {} // until killed; the pool's goroutines keep the runtime from calling it a deadlock
}

func TestProcessPoolWorkersDieWithParent(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	require.NoError(t, err)
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), testParentEnv+"=1")
	out, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	worker, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)

	require.NoError(t, parent.Process.Kill())
	parent.Wait()
	require.NoError(t, waitExit(worker, 20*time.Second), "the worker outlived its parent")
}

// waitExit waits for a process that is not our child to exit, on a pidfd,
// without polling.
func waitExit(pid int, timeout time.Duration) error { return osproc.WaitGone(pid, timeout) }
