//go:build !unix

package localtasks

import (
	"errors"
	"fmt"
	"syscall"
)

// processPoolSupported: the pool passes its workers inherited pipes as
// file descriptors 3 and 4, which os/exec supports only on Unix.
func processPoolSupported() error {
	return fmt.Errorf("localtasks: the process pool needs inherited file descriptors, which Go supports only on Unix: "+
		"use a ThreadPoolBackend on this platform: %w", errors.ErrUnsupported)
}

func workerSysProcAttr() *syscall.SysProcAttr { return nil }

func limitWorker(workerSpec) error { return nil }

func dup2(from, to int) error { return errors.ErrUnsupported }

func residentMemory(int) int64 { return 0 }
