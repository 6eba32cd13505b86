//go:build !unix

package osproc

import (
	"errors"
	"fmt"
	"syscall"
)

// Supported: the pool passes its workers inherited pipes as file
// descriptors 3 and 4, which os/exec supports only on Unix.
func Supported() error {
	return fmt.Errorf("localtasks: the process pool needs inherited file descriptors, which Go supports only on Unix: "+
		"use a ThreadPoolBackend on this platform: %w", errors.ErrUnsupported)
}

// SysProcAttr: nothing, where the pool does not start.
func SysProcAttr() *syscall.SysProcAttr { return nil }

// ResidentMemory: the pool does not read a worker's memory here.
func ResidentMemory(int) int64 { return 0 }
