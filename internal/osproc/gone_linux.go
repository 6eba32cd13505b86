package osproc

import (
	"os"
	"syscall"
	"time"
)

// WaitGone waits up to timeout for process pid, which need not be a child
// of this one, to exit, on a pidfd, without polling: nil once it has (a
// zombie that its parent has not reaped counts as gone), an error matching
// os.ErrDeadlineExceeded if timeout passed first.
func WaitGone(pid int, timeout time.Duration) error {
	const sysPidfdOpen = 434 // the same number on every architecture
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), syscall.O_NONBLOCK, 0)
	if errno == syscall.ESRCH {
		return nil // gone already
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
