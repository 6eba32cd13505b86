//go:build !unix

package main

import "os"

// maxRSSMiB is 0 where there is no rusage.
func maxRSSMiB(ps *os.ProcessState) float64 { return 0 }

// cpuTimes is 0 where there is no rusage.
func cpuTimes() (self, children float64) { return 0, 0 }
