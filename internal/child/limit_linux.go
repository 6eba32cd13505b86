//go:build linux

package child

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/localtasks/localtasks/internal/wire"
)

// limit applies the pool's limits to the worker process itself.
func limit(spec wire.Spec) error {
	if spec.Nice > 0 {
		// On Linux a nice value belongs to a thread, and a thread inherits
		// its creator's: set it on every thread the runtime has made.
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("setting the nice level: %w", err)
		}
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, spec.Nice); err != nil {
					return fmt.Errorf("setting the nice level: %w", err)
				}
			}
		}
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup3(from, to, 0) }
