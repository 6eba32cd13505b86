//go:build !linux && unix

package localtasks_test

import "syscall"

func niceness() (int, error) { return syscall.Getpriority(syscall.PRIO_PROCESS, 0) }
