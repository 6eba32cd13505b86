//go:build unix && !linux

package child

import (
	"fmt"
	"syscall"

	"github.com/localtasks/localtasks/internal/wire"
)

// limit applies the pool's scheduling limit to the worker process itself
// (the memory limit is watchMemory's): it raises its niceness by spec.Nice
// over what it inherited from the parent, up to 19, never below it.
func limit(spec wire.Spec) error {
	if spec.Nice <= 0 {
		return nil
	}
	// getpriority returns the niceness itself here, unlike on Linux.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return fmt.Errorf("reading the nice level: %w", err)
	}
	nice := min(p+spec.Nice, 19)
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice); err != nil {
		return fmt.Errorf("setting the nice level to %d: %w", nice, err)
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup2(from, to) }
