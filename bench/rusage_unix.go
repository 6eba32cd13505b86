//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSMiB is a finished child's peak resident set size, from its rusage:
// the largest of the child and the descendants it waited for (Linux's
// ru_maxrss is a maximum over the tree, not a sum).
func maxRSSMiB(ps *os.ProcessState) float64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20) // bytes there
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux and the BSDs
}

// cpuTimes returns the CPU time (user and system) this process has used,
// and that of its children it has waited for: a process pool's workers, once
// it has closed.
func cpuTimes() (self, children float64) {
	sec := func(ru *syscall.Rusage) float64 {
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	var s, c syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &s) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c) != nil {
		return 0, 0
	}
	return sec(&s), sec(&c)
}
