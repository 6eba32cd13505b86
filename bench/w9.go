package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	w9Workers    = 8
	w9MaxBytes   = 256              // per queued run
	w9MaxP99US   = 1000             // Enqueue and GetResult during snapshots
	w9Every      = time.Millisecond // the prober's pace: one Enqueue and one GetResult each
	w9SampledIDs = 1024             // IDs of the backlog the prober reads
)

func w9() *workload {
	return &workload{
		id: "W9", title: "backlog",
		sizes: [3]params{{N: 1_000_000, Dur: 5 * time.Second}, {N: 200_000, Dur: 2 * time.Second}, {N: 2_000, Dur: 200 * time.Millisecond}},
		systems: []system{
			{name: "localtasks", run: func(ctx context.Context, p params) (measurement, error) { return w9Run(ctx, p, w9Pass) }},
			{name: "busy-loop", run: func(ctx context.Context, p params) (measurement, error) { return w9Run(ctx, p, w9Spin) }},
		},
		targets: []target{
			extraAtMost("localtasks", "bytes_per_run", w9MaxBytes, "B a queued run"),
			extraAtMost("localtasks", "p99_us", w9MaxP99US, "us p99 during snapshots"),
		},
		legend: "W9: N no-op runs queued behind a thread pool of 8 workers all blocked; bytes_per_run = the heap they add (HeapAlloc after GC) / N. " +
			"Then, for Dur, a goroutine pages through every queued run with Snapshot (1,000 runs a page) in a loop while a prober, paced at one Enqueue and one " +
			"GetResult a millisecond, measures each call from when it was due (coordinated omission corrected): p50/p99 over both kinds; " +
			"idle_p99_us is the prober's p99 over Dur/2 before, with no snapshot running; " +
			"snapshot_ms is one full pass over the backlog, page_ms one page. busy-loop: the same, with a goroutine that spins on the CPU " +
			"(yielding as often as a snapshot does) instead of the snapshots: the latency any busy goroutine costs the prober on this machine. " +
			"ratios = bound / figure.",
	}
}

// w9Block blocks a worker until its run is cancelled: W9's blocked pool.
var w9Block = localtasks.Define("bench.w9block", func(ctx context.Context, started chan<- struct{}) (int, error) {
	started <- struct{}{}
	<-ctx.Done()
	return 0, ctx.Err()
})

// heapAlloc is the heap in use after two collections (see heapAfterGC).
func heapAlloc() uint64 { return heapAfterGC().HeapAlloc }

// w9Loop is what runs beside the prober: a pass of snapshots over the
// whole backlog (w9Pass), or its control (w9Spin). It returns the runs it
// listed, or -1 if stop closed first.
type w9Loop func(b *localtasks.ThreadPoolBackend, stop <-chan struct{}, pages, pageNanos *atomic.Int64) (int, error)

func w9Run(ctx context.Context, p params, loop w9Loop) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: w9Workers})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	var blockers []string
	started := make(chan struct{}, w9Workers)
	for range w9Workers {
		h, err := w9Block.Enqueue(ctx, b, started)
		if err != nil {
			return measurement{}, err
		}
		blockers = append(blockers, h.ID())
	}
	for range w9Workers {
		<-started
	}

	// The backlog. The IDs are dropped but for a sample the prober reads.
	sample := make([]string, 0, w9SampledIDs)
	h0 := heapAlloc()
	start := time.Now()
	for i := range p.N {
		h, err := noopTask.Enqueue(ctx, b, i)
		if err != nil {
			return measurement{}, err
		}
		if i%max(p.N/w9SampledIDs, 1) == 0 && len(sample) < w9SampledIDs {
			sample = append(sample, h.ID())
		}
	}
	secs := time.Since(start).Seconds()
	perRun := float64(heapAlloc()-h0) / float64(p.N)

	// The prober alone first, for the machine's own latency: on a shared
	// machine with more runnable threads than cores, a woken goroutine
	// can wait milliseconds for a core whatever the pool does.
	idle, err := w9Probe(ctx, b, sample, p.Dur/2)
	if err != nil {
		return measurement{}, err
	}
	slices.Sort(idle)

	// Snapshots in a loop, while the prober measures.
	stop := make(chan struct{})
	var passes, pages atomic.Int64
	var passNanos, pageNanos atomic.Int64
	var snapErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			n, err := loop(b, stop, &pages, &pageNanos)
			if err != nil {
				snapErr = err
				return
			}
			if n >= 0 {
				passes.Add(1)
				passNanos.Add(int64(time.Since(t0)))
			}
		}
	})
	lat, probeErr := w9Probe(ctx, b, sample, p.Dur)
	close(stop)
	wg.Wait()
	if probeErr != nil {
		return measurement{}, probeErr
	}
	if snapErr != nil {
		return measurement{}, snapErr
	}
	for _, id := range blockers {
		if err := b.Cancel(ctx, id); err != nil {
			return measurement{}, err
		}
	}
	slices.Sort(lat)
	extra := map[string]float64{
		"bytes_per_run": perRun,
		"p50_us":        percentileUS(lat, 50),
		"p99_us":        percentileUS(lat, 99),
		"max_us":        percentileUS(lat, 100),
		"idle_p99_us":   percentileUS(idle, 99),
		"passes":        float64(passes.Load()),
		"pages":         float64(pages.Load()),
	}
	if n := passes.Load(); n > 0 {
		extra["snapshot_ms"] = float64(passNanos.Load()) / float64(n) / 1e6
	}
	if n := pages.Load(); n > 0 {
		extra["page_ms"] = float64(pageNanos.Load()) / float64(n) / 1e6
	}
	return measurement{Tasks: p.N, Seconds: secs, Extra: extra}, nil
}

// w9Probe enqueues a run and reads one of ids every w9Every for dur, and
// returns the latency of each call measured from when it was due, not from
// when it was made: a call held up delays the next ones, whose wait counts.
func w9Probe(ctx context.Context, b *localtasks.ThreadPoolBackend, ids []string, dur time.Duration) ([]time.Duration, error) {
	rng := rand.New(rand.NewPCG(9, 9))
	n := int(dur / w9Every)
	lat := make([]time.Duration, 0, 2*n)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * w9Every)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if _, err := noopTask.Enqueue(ctx, b, i); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(due))
		due2 := time.Now()
		if _, err := b.GetResult(ctx, ids[rng.IntN(len(ids))]); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(due2))
	}
	return lat, nil
}
