//go:build unix

package localtasks_test

import (
	"testing"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// On a process pool the middleware runs in the parent, and so does Extract.
func TestPropagatorProcessPool(t *testing.T) {
	t.Parallel()
	var seen seenTraces
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 2, Config: localtasks.Config{
		Propagator: localtaskstest.Propagator{}, Middleware: []localtasks.Middleware{seen.middleware}}})
	checkPropagator(t, b, &seen, false)
}
