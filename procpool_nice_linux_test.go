package localtasks_test

import "syscall"

// niceness returns the calling thread's nice value. Linux's getpriority
// returns 20 minus it.
func niceness() (int, error) {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	return 20 - p, err
}
