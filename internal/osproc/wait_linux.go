package osproc

import (
	"syscall"
	"unsafe"
)

// WaitExited blocks until the child process pid has exited, without reaping
// it: it stays a zombie, its PID (and so its process group's ID) taken,
// until Process.Wait reaps it. Between the two the parent can kill what is
// left of its process group with no risk of hitting a process that reused
// the ID. It reports false if it could not wait so (the caller then learns
// of the exit from Process.Wait alone).
func WaitExited(pid int) bool {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t, which the caller does not read
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
			syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		default:
			return false
		}
	}
}
