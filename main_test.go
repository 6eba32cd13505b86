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
)

// testWorkerEnv makes the test binary, started as a process-pool worker,
// behave as a program that forgot to call localtasks.Init: it ends at once
// ("exit"), or serves something else forever ("hang"); or as a worker that
// cannot apply the pool's settings ("settings").
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
	}
	localtasks.Init() // the test binary is also the process pool's worker
	if os.Getenv(testParentEnv) != "" {
		runTestParent()
	}
	goleak.VerifyTestMain(m)
}
