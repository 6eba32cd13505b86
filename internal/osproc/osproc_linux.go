//go:build linux

package osproc

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Supported reports why the process pool cannot run here, or nil.
func Supported() error { return nil }

// SysProcAttr makes a worker die with the parent: the kernel sends it
// SIGKILL when the thread that started it exits. The runtime ends a thread
// only when a goroutine locked to it with runtime.LockOSThread exits without
// unlocking; the pool starts workers from its own goroutines, which are not
// locked, so in practice that is when the program exits.
//
// It also puts the worker in a process group of its own, so that a Ctrl-C
// in a terminal, which signals the whole foreground group, reaches the
// parent alone: the parent decides, and may drain its running tasks.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// ResidentMemory returns the resident memory of process pid, in bytes, or
// 0 if it cannot be read.
func ResidentMemory(pid int) int64 {
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
