package localtasks

import "fmt"

// Resizer is a Backend whose workers can be added or retired at run time,
// to follow the load without a restart: the two pools are, while the
// immediate and recording backends, which have no workers, are not, so it
// is not part of Controller. Check for it with a type assertion:
//
//	if r, ok := b.(localtasks.Resizer); ok {
//		err = r.SetMaxWorkers(16)
//	}
type Resizer interface {
	// SetMaxWorkers sets how many workers run tasks from now on, at
	// least 1. Growing starts the new workers at once; shrinking retires
	// the workers over n, each once it has finished the run it has, which
	// is never cancelled. It acts on the backend's state, and so on every
	// backend of its Name.
	SetMaxWorkers(n int) error
	// MaxWorkers returns the number of workers the backend aims at: its
	// configured MaxWorkers, or what SetMaxWorkers set last. Workers that
	// are retiring are not counted, and those still starting are.
	MaxWorkers() int
}

var (
	_ Resizer = (*ThreadPoolBackend)(nil)
	_ Resizer = (*ProcessPoolBackend)(nil)
)

// SetMaxWorkers sets how many goroutines run tasks from now on; see
// Resizer. Growing starts the new workers at once, which take queued runs
// at once. Shrinking retires the workers of the highest slots: one that
// runs a task finishes it (its ctx is not cancelled), settles it, and
// exits; an idle one exits at once. Until they have exited, more than n
// runs may be running, but no retiring worker starts another run.
//
// It acts on the state the backend shares with every backend of its Name:
// all of them see the new number. A backend built later under that Name is
// still checked against the configured MaxWorkers, not the resized one. n
// below 1 is an error matching ErrConfig, and a closed backend's, one
// matching ErrClosed; setting the number it has changes nothing.
func (b *ThreadPoolBackend) SetMaxWorkers(n int) error { return b.s.resize(&b.holder, n) }

// MaxWorkers returns the number of goroutines the backend aims at; see
// Resizer.
func (b *ThreadPoolBackend) MaxWorkers() int { return b.s.maxWorkers() }

// SetMaxWorkers sets how many worker processes run tasks from now on; see
// Resizer. Growing starts worker processes for the new slots at once, as
// the pool replaces a worker that died: Snapshot lists each slot as
// Starting until its worker has reached Init, and a worker that fails to
// start is logged and tried again. Shrinking retires the workers of the
// highest slots as MaxTasksPerWorker does: a retiring worker takes no more
// runs, gives back those it was sent and has not started (they go back to
// the head of their lines, for the other workers), finishes the run it has
// (which is not cancelled), then its input is closed, and it exits and is
// reaped; an idle one exits at once. Until they have exited, more than n
// runs may be running.
//
// It acts on the state the backend shares with every backend of its Name:
// all of them see the new number. A backend built later under that Name is
// still checked against the configured MaxWorkers, not the resized one. n
// below 1 is an error matching ErrConfig, and a closed backend's, one
// matching ErrClosed; setting the number it has changes nothing.
func (b *ProcessPoolBackend) SetMaxWorkers(n int) error { return b.s.resize(&b.holder, n) }

// MaxWorkers returns the number of worker processes the backend aims at;
// see Resizer.
func (b *ProcessPoolBackend) MaxWorkers() int { return b.s.maxWorkers() }

// resize sets the workers s aims at to n, for h: it starts workers in the
// empty slots below n, and retires those of the slots from n up. A slot
// whose worker is retiring and has not left yet keeps its worker if n
// grows back over it: the thread pool's worker goes on, and the process
// pool's slot starts a fresh worker once the retiring one has exited.
func (s *state) resize(h *holder, n int) error {
	if n < 1 {
		return configError(s.set.kind, "SetMaxWorkers(%d): a pool needs at least one worker: pass 1 or more, "+
			"or Close the backend to stop its workers", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.closed.Load() || s.closing {
		return fmt.Errorf("localtasks: SetMaxWorkers(%d): %s is closed: build a new backend: %w", n, s.set.label(), ErrClosed)
	}
	if n == s.workers {
		return nil
	}
	shrink := n < s.workers
	s.workers = n
	for len(s.slotLive) < n {
		s.slotLive = append(s.slotLive, false)
		if s.mode == modePool {
			s.slotDone = append(s.slotDone, 0)
		}
	}
	for i := range n {
		if s.slotLive[i] {
			continue // a worker holds it: one not retiring, or one that now stays
		}
		s.slotLive[i] = true
		s.running++ // never from zero: slot 0 stays until the state closes
		if s.mode == modePool {
			s.slotDone[i] = 0 // a new worker; the slot's last one has left
			go s.work(i)
		} else {
			go s.proc.runSlot(i, nil)
		}
	}
	if shrink {
		if s.proc != nil {
			s.proc.retire(n)
		}
		// The idle workers of retired slots wake to leave: thread-pool
		// workers in step, process-pool dispatchers in dispatch.
		s.cond.Broadcast()
	}
	return nil
}

// maxWorkers returns the workers s aims at.
func (s *state) maxWorkers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers
}
