package main

import (
	"time"

	"github.com/localtasks/localtasks/internal/osproc"
)

// forkSwept: the pool kills what is left of a worker's process group
// whatever ended the worker, a clean exit too, so a fork's child is gone
// once its worker is.
const forkSwept = true

// waitGone waits up to timeout for process pid, which is not our child, to
// exit.
func waitGone(pid int, timeout time.Duration) error { return osproc.WaitGone(pid, timeout) }
