package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/alitto/pond/v2"

	"github.com/localtasks/localtasks"
)

const (
	w6Workers    = 8
	w6Submitters = 64
)

func w6() *workload {
	return &workload{
		id: "W6", title: "contention",
		sizes: [3]params{{N: 10_000}, {N: 1_000}, {N: 20}},
		systems: []system{
			{name: "localtasks", run: w6LocalTasks},
			{name: "pond", run: w6Pond},
		},
		targets: []target{throughputAtLeast("localtasks", "pond", 1.0)},
		legend: "W6: 64 goroutines, released at once, each enqueue N tasks (tasks = 64 N) on 8 workers, then wait for their own results. " +
			"p50/p99 = the latency of one Enqueue (pond: Submit) call. ratio = localtasks tasks/s / pond tasks/s.",
	}
}

// contend runs W6's pattern: w6Submitters goroutines released at once, each
// calling submit for n tasks (timing each call), then wait for them.
func contend(n int, submit func(g, i int) (wait func() error, err error)) (measurement, error) {
	lat := make([][]time.Duration, w6Submitters)
	errs := make([]error, w6Submitters)
	release := make(chan struct{})
	var ready, wg sync.WaitGroup
	for g := range w6Submitters {
		lat[g] = make([]time.Duration, n)
		ready.Add(1)
		wg.Go(func() {
			waits := make([]func() error, n)
			ready.Done()
			<-release
			for i := range n {
				t0 := time.Now()
				w, err := submit(g, i)
				lat[g][i] = time.Since(t0)
				if err != nil {
					errs[g] = err
					return
				}
				waits[i] = w
			}
			for _, w := range waits {
				if err := w(); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	ready.Wait()
	start := time.Now()
	close(release)
	wg.Wait()
	secs := time.Since(start).Seconds()
	for _, err := range errs {
		if err != nil {
			return measurement{}, err
		}
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return measurement{Tasks: w6Submitters * n, Seconds: secs, Extra: map[string]float64{
		"p50_us": percentileUS(all, 50), "p99_us": percentileUS(all, 99),
	}}, nil
}

func w6LocalTasks(ctx context.Context, p params) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: w6Workers, Config: localtasks.Config{MaxResults: w6Submitters * p.N}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	return contend(p.N, func(g, i int) (func() error, error) {
		arg := g*p.N + i
		h, err := noopTask.Enqueue(ctx, b, arg)
		if err != nil {
			return nil, err
		}
		id := h.ID()
		return func() error {
			res, err := b.Wait(ctx, id)
			if err != nil {
				return err
			}
			if res.Status != localtasks.StatusSuccessful || res.Value != any(arg) {
				return fmt.Errorf("task %d ended %v with %v", arg, res.Status, res.Value)
			}
			return nil
		}, nil
	})
}

func w6Pond(ctx context.Context, p params) (measurement, error) {
	pool := pond.NewResultPool[int](w6Workers)
	defer pool.StopAndWait()
	return contend(p.N, func(g, i int) (func() error, error) {
		arg := g*p.N + i
		f := pool.Submit(func() int { return noop(arg) })
		return func() error {
			v, err := f.Wait()
			if err != nil {
				return err
			}
			if v != arg {
				return fmt.Errorf("task %d returned %d", arg, v)
			}
			return nil
		}, nil
	})
}
