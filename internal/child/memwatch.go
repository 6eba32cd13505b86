package child

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// watchMemory enforces a worker's memory limit: the Go runtime's soft limit
// at 90% of it, so the collector works harder as the limit nears, and a hard
// limit checked after every collection, over which the worker exits. There
// is no ticker: a finalizer, set again each time it runs, runs once a cycle.
// A single allocation larger than the machine's free memory can still reach
// the system's out-of-memory killer before a collection sees it.
func watchMemory(limit int64) {
	debug.SetMemoryLimit(limit * 9 / 10)
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var arm func()
	arm = func() {
		runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
			metrics.Read(samples)
			used := int64(samples[0].Value.Uint64() - samples[1].Value.Uint64())
			if used > limit {
				exit(ExitMemoryLimit, fmt.Errorf("using %d bytes, over its memory limit of %d: exiting", used, limit))
			}
			arm()
		})
	}
	arm()
}
