package localtasks

import "fmt"

// ThreadPoolMaxWorkersDefault is the number of workers of a
// ThreadPoolBackend unless ThreadPoolConfig.MaxWorkers says otherwise.
const ThreadPoolMaxWorkersDefault = 10

// ThreadPoolConfig configures a ThreadPoolBackend.
type ThreadPoolConfig struct {
	Config
	// MaxWorkers is the number of goroutines that run tasks, at most that
	// many at once. Defaults to ThreadPoolMaxWorkersDefault.
	MaxWorkers int
}

// ThreadPoolBackend runs tasks on a fixed pool of goroutines, for I/O-bound
// work: the Go counterpart of django-tasks-local's ThreadPoolBackend, with
// priorities, run-after times, retries, timeouts and cancellation.
//
// Enqueue never blocks on the workers (BenchmarkEnqueue: 0.6 to 0.9 us on a
// 2-core machine, with the workers busy); there is no goroutine per task and
// no polling: idle workers sleep until a task is queued, and scheduled tasks
// wait on a single timer. docs/design.md has the costs.
type ThreadPoolBackend struct {
	holder
}

var _ Backend = (*ThreadPoolBackend)(nil)

// threadPoolCapabilities is everything.
var threadPoolCapabilities = Capabilities{Defer: true, Priority: true, GetResult: true, Cancel: true, CancelRunning: true, Retry: true, Timeout: true, Limits: true, Perpetual: true}

// NewThreadPool builds a ThreadPoolBackend and starts its workers, or joins
// the state of the backends already built under cfg.Name.
func NewThreadPool(cfg ThreadPoolConfig) (*ThreadPoolBackend, error) {
	workers := cfg.MaxWorkers
	switch {
	case workers < 0:
		return nil, fmt.Errorf("localtasks: threadpool config: MaxWorkers %d is negative: use 0 for the default of %d: %w", workers, ThreadPoolMaxWorkersDefault, ErrConfig)
	case workers == 0:
		workers = ThreadPoolMaxWorkersDefault
	}
	st, err := cfg.settings("threadpool", workers)
	if err != nil {
		return nil, err
	}
	s, err := openState(cfg.Name, st, func() (*state, error) {
		s := newState(cfg.Name, st, modePool, threadPoolCapabilities)
		s.startWorkers(workers)
		return s, s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &ThreadPoolBackend{holder{s: s}}, nil
}
