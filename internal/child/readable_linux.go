package child

import (
	"syscall"
	"unsafe"
)

// pollFd is struct pollfd.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

// readable returns a bit for each capture whose pipe holds bytes to read
// (or whose write ends are closed, or in error: a read will say): one
// ppoll(2) with a zero timeout, which never blocks. If the call fails, every
// bit is set, for the reads to find out.
func readable(cs []*capture) uint {
	var fds [2]pollFd
	if len(cs) > len(fds) {
		return ^uint(0)
	}
	for i, c := range cs {
		fds[i] = pollFd{fd: int32(c.fd), events: pollIn}
	}
	var zero syscall.Timespec
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(cs)),
		uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	if errno != 0 {
		return ^uint(0)
	}
	var ready uint
	for i := range cs {
		if fds[i].revents != 0 {
			ready |= 1 << i
		}
	}
	return ready
}
