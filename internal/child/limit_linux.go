//go:build linux

package child

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/localtasks/localtasks/internal/wire"
)

// limit applies the pool's limits to the worker process itself: it raises
// its niceness by spec.Nice over what it inherited from the parent, up to
// 19, never below it.
func limit(spec wire.Spec) error {
	if spec.Nice <= 0 {
		return nil
	}
	// On Linux a nice value belongs to a thread, and a thread inherits its
	// creator's: set it on every thread the runtime has made. getpriority
	// returns 20 minus the niceness.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return fmt.Errorf("reading the nice level: %w", err)
	}
	nice := min(20-p+spec.Nice, 19)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("setting the nice level: %w", err)
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
				return fmt.Errorf("setting the nice level to %d: %w", nice, err)
			}
		}
	}
	return nil
}

func dup2(from, to int) error { return syscall.Dup3(from, to, 0) }
