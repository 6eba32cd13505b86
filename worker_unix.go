//go:build unix && !linux

package localtasks

import (
	"fmt"
	"syscall"
)

func processPoolSupported() error { return nil }

// workerSysProcAttr: outside Linux there is no parent-death signal; a
// worker ends when it reads EOF from the parent's pipe, which the kernel
// closes when the parent dies. A process group of its own keeps a Ctrl-C in
// a terminal, which signals the whole foreground group, from reaching it:
// the parent decides, and may drain its running tasks.
func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// limitWorker applies the pool's scheduling limit to the worker process
// itself (the memory limit is watchMemory's).
func limitWorker(spec workerSpec) error {
	if spec.nice > 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, spec.nice); err != nil {
			return fmt.Errorf("setting the nice level: %w", err)
		}
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup2(from, to) }

// residentMemory: outside Linux the pool does not read a worker's memory.
func residentMemory(int) int64 { return 0 }
