//go:build unix

package osproc

import "syscall"

// KillGroup sends SIGKILL to every process of the process group pgid: a
// worker (which SysProcAttr makes the leader of a group of its own) and
// whatever its tasks started that stayed in its group.
//
// Call it only while the worker is not yet reaped: a process group's ID is
// its leader's PID, which the kernel does not reuse while the leader is
// alive or a zombie, or while the group has other members.
func KillGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil // nothing is left of it
	}
	return err
}
