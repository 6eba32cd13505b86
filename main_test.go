package localtasks_test

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/child"
	"github.com/localtasks/localtasks/internal/wire"
)

// testWorkerEnv makes the test binary, started as a process-pool worker,
// behave as a program that forgot to call localtasks.Init: it ends at once
// ("exit"), or serves something else forever ("hang"); or as a worker that
// cannot apply the pool's settings ("settings"), that reached Init and could
// not serve ("failed"), that crashes before Init ("crash", "killed"), exits
// with an error ("code"), or comes from another build ("oldbinary").
const testWorkerEnv = "LOCALTASKS_TEST_NO_INIT"

func TestMain(m *testing.M) {
	switch os.Getenv(testWorkerEnv) {
	case "exit":
		os.Exit(0)
	case "hang":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		os.Exit(0)
	case "settings":
		// What a worker that cannot set its niceness writes and returns.
		fmt.Fprintln(os.Stderr, "localtasks worker: setting the nice level to 19: operation not permitted")
		os.Exit(child.ExitSettings)
	case "failed":
		// What a worker that reached Init and could not serve writes.
		fmt.Fprintln(os.Stderr, "localtasks worker: started without the pipes of a process-pool worker")
		os.Exit(child.ExitFailed)
	case "crash":
		panic("boom in an init function")
	case "killed":
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Signal(os.Kill)
		}
		os.Exit(1)
	case "code":
		fmt.Fprintln(os.Stderr, "flag provided but not defined: -x")
		os.Exit(2)
	case "oldbinary":
		// A worker built from another version of the program.
		w := wire.NewWriter(os.NewFile(wire.OutFD, "out"), 64<<10)
		w.WriteFromWorker(&wire.FromWorker{Kind: wire.KindHello, PID: os.Getpid(), Version: wire.Version + 1})
		w.Flush()
		os.Exit(0)
	}
	localtasks.Init() // the test binary is also the process pool's worker
	if os.Getenv(testParentEnv) != "" {
		runTestParent()
	}
	goleak.VerifyTestMain(m)
}
