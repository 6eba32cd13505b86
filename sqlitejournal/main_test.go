package sqlitejournal_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	// The test binary is also the process pool's worker: in a worker, Init
	// serves tasks and never returns.
	localtasks.Init()
	// Or it is the child of a test, by an environment variable, and never
	// returns either.
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
	}
	if path := os.Getenv(lockChildEnv); path != "" {
		lockChild(path)
	}
	if spec := os.Getenv(restartChildEnv); spec != "" {
		restartChild(spec)
	}
	goleak.VerifyTestMain(m)
}
