//go:build !linux

package main

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// forkSwept: outside Linux the pool kills a worker's process group when it
// kills the worker, but does not sweep it after a clean exit, so a fork's
// child may outlive its worker: the chaos draws no forks.
const forkSwept = false

// waitGone checks that process pid is gone. Outside Linux the pool does not
// sweep a worker's process group (docs/process-pool.md), and there is no
// pidfd to wait on: it checks once.
func waitGone(pid int, _ time.Duration) error {
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("it is still there (kill 0: %v)", err)
	}
	return nil
}
