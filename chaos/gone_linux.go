package main

import (
	"os"
	"syscall"
	"time"
)

// forkSwept: the pool kills what is left of a worker's process group
// whatever ended the worker, a clean exit too, so a fork's child is gone
// once its worker is.
const forkSwept = true

// waitGone waits up to timeout for process pid, which is not our child, to
// exit, on a pidfd: a zombie that its new parent has not reaped counts as
// gone.
func waitGone(pid int, timeout time.Duration) error {
	const sysPidfdOpen = 434 // the same number on every architecture
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), syscall.O_NONBLOCK, 0)
	if errno == syscall.ESRCH {
		return nil
	}
	if errno != 0 {
		return errno
	}
	f := os.NewFile(fd, "pidfd")
	defer f.Close()
	if err := f.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	first := true
	return rc.Read(func(uintptr) bool {
		if first { // wait until the pidfd is readable: the process exited
			first = false
			return false
		}
		return true
	})
}
