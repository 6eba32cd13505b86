package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

func killSupported() error { return nil }

// programAttr puts the program in a process group of its own, so that the
// kill reaches it and nothing else, and makes it die with the driver.
func programAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProgram SIGKILLs the program pid, the driver's child, and its worker
// processes, and returns the workers' PIDs, for the driver to wait until
// they are gone; it reaps the program only through cmd.Wait.
//
// Killing the program's process group is not enough: the pool puts each
// worker in a process group of its own (osproc.SysProcAttr). The kernel's
// parent-death signal would kill the workers with the program, but the
// driver must know them to wait until they are gone before the next start.
// So the program is first stopped, which ends its forks, then its children
// are listed and killed, each with its group, and the program with them.
func killProgram(pid int) ([]int, error) {
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("stopping it: %w", err)
	}
	// Wait until the whole program has stopped (or exited): no thread is
	// then within a fork. WNOWAIT leaves the status for cmd.Wait to reap.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		return nil, fmt.Errorf("waiting for it to stop: %w", err)
	}
	workers, err := childrenOf(pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	for _, w := range workers {
		syscall.Kill(w, syscall.SIGKILL)  // a worker not yet in its own group
		syscall.Kill(-w, syscall.SIGKILL) // and its group: whatever its tasks started
	}
	return workers, err
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: the comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		var state byte
		var ppid int
		if i < 0 {
			continue
		}
		if _, err := fmt.Sscanf(string(stat[i+1:]), " %c %d", &state, &ppid); err == nil && ppid == pid {
			kids = append(kids, p)
		}
	}
	return kids, nil
}
