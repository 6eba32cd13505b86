//go:build unix && !linux

package osproc

import "syscall"

// Supported reports why the process pool cannot run here, or nil.
func Supported() error { return nil }

// SysProcAttr: outside Linux there is no parent-death signal; a worker ends
// when it reads EOF from the parent's pipe, which the kernel closes when the
// parent dies. A process group of its own keeps a Ctrl-C in a terminal,
// which signals the whole foreground group, from reaching it: the parent
// decides, and may drain its running tasks.
func SysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// ResidentMemory: outside Linux the pool does not read a worker's memory.
func ResidentMemory(int) int64 { return 0 }

// WaitExited: outside Linux the pool learns of a worker's exit from
// Process.Wait alone, which reaps it; it then does not sweep the worker's
// process group, whose ID the system may already have given to another
// process.
func WaitExited(int) bool { return false }
