package dashboard_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	localtasks.Init() // the tests' process pools run this binary as their workers
	goleak.VerifyTestMain(m)
}
