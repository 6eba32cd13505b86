package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	w5Workers     = 8
	w5MaxResults  = 1_000
	w5Outstanding = 256 // the producer's bound on unfinished tasks
	w5Readers     = 4
	w5Recent      = 512 // readers pick among the most recent IDs enqueued
	w5MaxRSSMiB   = 64
)

func w5() *workload {
	return &workload{
		id: "W5", title: "memory",
		sizes:   [3]params{{N: 1_000_000}, {N: 200_000}, {N: 2_000}},
		systems: []system{{name: "localtasks", run: w5Run}},
		targets: []target{rssAtMost("localtasks", w5MaxRSSMiB)},
		legend: "W5: N no-op tasks on a thread pool of 8 workers with MaxResults 1,000; the producer keeps at most 256 unfinished and " +
			"waits for the oldest; 4 readers GetResult random IDs among the 512 most recent. lost = ErrResultNotFound for an ID the producer " +
			"had not yet seen finish. ratio = 64 MiB / peak RSS; PASS needs ratio >= 1 and lost = 0.",
	}
}

// w5Run runs W5 once: one producer, 4 readers. A reader's ErrResultNotFound
// for an ID the producer had not yet seen finish when the answer came is a
// lost result. The producer's own Wait failing would be one too: it fails
// the run.
func w5Run(ctx context.Context, p params) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: w5Workers, Config: localtasks.Config{MaxResults: w5MaxResults}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)

	// recent holds the IDs of the last len(recent.ids) tasks enqueued;
	// the producer has seen tasks 0 to seen-1 finish.
	var recent struct {
		sync.Mutex
		ids      [w5Recent]string
		enqueued int
	}
	var seen atomic.Int64
	var lost, reads, evicted atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := range w5Readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for {
				select {
				case <-done:
					return
				default:
				}
				recent.Lock()
				n := recent.enqueued
				if n == 0 {
					recent.Unlock()
					continue
				}
				k := n - 1 - rng.IntN(min(n, w5Recent))
				id := recent.ids[k%w5Recent]
				recent.Unlock()
				_, err := b.GetResult(ctx, id)
				reads.Add(1)
				switch {
				case err == nil:
				// seen is read after the answer: a reader descheduled
				// between its pick and its read may ask for an ID that the
				// producer has since seen finish and that 1,000 later
				// results have since pushed out, legitimately.
				case errors.Is(err, localtasks.ErrResultNotFound) && int64(k) >= seen.Load():
					lost.Add(1)
				case errors.Is(err, localtasks.ErrResultNotFound):
					evicted.Add(1) // finished and seen: evicting it is allowed
				default:
					panic(err)
				}
			}
		})
	}
	stopReaders := sync.OnceFunc(func() { close(done); wg.Wait() })
	defer stopReaders()

	var window [w5Outstanding]string
	wait := func(i int) error {
		res, err := b.Wait(ctx, window[i%w5Outstanding])
		if err != nil {
			return fmt.Errorf("waiting for task %d: %w", i, err)
		}
		if res.Status != localtasks.StatusSuccessful || res.Value != any(i) {
			return fmt.Errorf("task %d ended %v with %v", i, res.Status, res.Value)
		}
		seen.Store(int64(i + 1))
		return nil
	}
	start := time.Now()
	for i := range p.N {
		if i >= w5Outstanding {
			if err := wait(i - w5Outstanding); err != nil {
				return measurement{}, err
			}
		}
		h, err := noopTask.Enqueue(ctx, b, i)
		if err != nil {
			return measurement{}, err
		}
		window[i%w5Outstanding] = h.ID()
		recent.Lock()
		recent.ids[i%w5Recent] = h.ID()
		recent.enqueued = i + 1
		recent.Unlock()
	}
	for i := max(0, p.N-w5Outstanding); i < p.N; i++ {
		if err := wait(i); err != nil {
			return measurement{}, err
		}
	}
	secs := time.Since(start).Seconds()
	stopReaders()
	return measurement{Tasks: p.N, Seconds: secs, Extra: map[string]float64{
		"lost": float64(lost.Load()), "reads": float64(reads.Load()), "evicted_reads": float64(evicted.Load()),
	}}, nil
}
