//go:build linux

package localtasks

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func processPoolSupported() error { return nil }

// workerSysProcAttr makes a worker die with the parent: the kernel sends it
// SIGKILL when the thread that started it exits. The runtime ends a thread
// only when a goroutine locked to it with runtime.LockOSThread exits without
// unlocking; the pool starts workers from its own goroutines, which are not
// locked, so in practice that is when the program exits.
//
// It also puts the worker in a process group of its own, so that a Ctrl-C
// in a terminal, which signals the whole foreground group, reaches the
// parent alone: the parent decides, and may drain its running tasks.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// limitWorker applies the pool's limits to the worker process itself.
func limitWorker(spec workerSpec) error {
	if spec.nice > 0 {
		// On Linux a nice value belongs to a thread, and a thread inherits
		// its creator's: set it on every thread the runtime has made.
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("setting the nice level: %w", err)
		}
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, spec.nice); err != nil {
					return fmt.Errorf("setting the nice level: %w", err)
				}
			}
		}
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup3(from, to, 0) }

// residentMemory returns the resident memory of process pid, in bytes, or
// 0 if it cannot be read.
func residentMemory(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0
	}
	return resident * int64(os.Getpagesize())
}
