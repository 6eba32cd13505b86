package otel

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	localtasks.Init() // the test binary is also the process pool's worker
	goleak.VerifyTestMain(m)
}
