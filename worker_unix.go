//go:build unix && !linux

package localtasks

import (
	"fmt"
	"runtime/debug"
	"syscall"
)

func processPoolSupported() error { return nil }

// workerSysProcAttr: outside Linux there is no parent-death signal; a
// worker ends when it reads EOF from the parent's pipe, which the kernel
// closes when the parent dies.
func workerSysProcAttr() *syscall.SysProcAttr { return nil }

// limitWorker applies the pool's limits to the worker process itself.
// Outside Linux the memory limit is the Go runtime's soft limit alone: the
// kernels there do not reliably enforce RLIMIT_DATA.
func limitWorker(spec workerSpec) error {
	if spec.memLimit > 0 {
		debug.SetMemoryLimit(spec.memLimit * 9 / 10)
	}
	if spec.nice > 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, spec.nice); err != nil {
			return fmt.Errorf("setting the nice level: %w", err)
		}
	}
	return nil
}
