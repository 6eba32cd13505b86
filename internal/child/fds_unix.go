//go:build unix

package child

import "syscall"

// closeOnExec keeps descriptor fd from the programs a task starts. The
// protocol's descriptors come inheritable (os/exec's ExtraFiles makes them
// so), and os/exec passes a new program every inheritable descriptor: a
// task's child, or a daemon it leaves behind, would hold the worker's pipes
// open for as long as it lives.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
