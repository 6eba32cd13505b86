//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// killSupported: the kill-restart phase lists the program's workers in
// /proc, and waits for them on a pidfd: Linux only.
func killSupported() error {
	return errors.New("the kill-restart phase runs on Linux only: it finds the program's workers in /proc")
}

func programAttr() *syscall.SysProcAttr  { return &syscall.SysProcAttr{Setpgid: true} }
func killProgram(pid int) ([]int, error) { return nil, killSupported() }
