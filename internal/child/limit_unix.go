//go:build unix && !linux

package child

import (
	"fmt"
	"syscall"

	"github.com/localtasks/localtasks/internal/wire"
)

// limit applies the pool's scheduling limit to the worker process itself
// (the memory limit is watchMemory's).
func limit(spec wire.Spec) error {
	if spec.Nice > 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, spec.Nice); err != nil {
			return fmt.Errorf("setting the nice level: %w", err)
		}
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup2(from, to) }
