package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"
	"golang.org/x/sync/errgroup"

	"github.com/localtasks/localtasks"
)

// noopTask returns its argument: W1, W4 and W5's task. Defined at package
// level, so that process-pool workers know it.
var noopTask = localtasks.Define("bench.noop", func(ctx context.Context, n int) (int, error) { return n, nil })

// noop is the peers' W1 work: the same as noopTask's function.
func noop(n int) int { return n }

func w1() *workload {
	const workers = 8
	return &workload{
		id: "W1", title: "noop",
		sizes: [3]params{{N: 100_000}, {N: 20_000}, {N: 200}},
		systems: append(peerSet(
			system{name: "localtasks", run: func(ctx context.Context, p params) (measurement, error) {
				return ltThreadPool(ctx, workers, p.N, noopTask, func(i int) int { return i }, checkIdentity)
			}},
			append([]system{{name: "localtasks-many", run: func(ctx context.Context, p params) (measurement, error) {
				return ltThreadPoolMany(ctx, workers, p.N, w1Batch)
			}}, {name: "localtasks-noresult", run: func(ctx context.Context, p params) (measurement, error) {
				return ltNoResult(ctx, workers, p.N)
			}}}, goPeers(workers, noop)...),
			system{name: "python-thread", python: []string{"W1", "thread"}},
		), riverSystems(workers)...),
		targets: []target{
			throughputAtLeast("localtasks", "pond", 1.0),
			throughputAtLeast("localtasks", "python-thread", 40),
			throughputAtLeast("localtasks-river", "river-raw", 0.9),
		},
		legend: "W1: N tasks returning their int argument on 8 workers, from the first enqueue until every result is read back and checked " +
			"(localtasks: Wait by ID, status SUCCESSFUL). ratio = localtasks tasks/s / the other's tasks/s. " +
			"localtasks-many: the same through Task.EnqueueMany, in batches of 1000. " +
			"localtasks-noresult: the same runs with WithDiscardResult, timed until Drain returns, checked by the Succeeded counter (no result is kept to read). " +
			"The River systems run on PostgreSQL ($LOCALTASKS_PG_URL; left out when unset), N/10 tasks, 8 River workers in the same process, fetch cooldown 1 ms: " +
			"localtasks-river: through the River adapter with Task.EnqueueMany, in batches of 100; localtasks-river-each: the same, one Task.Enqueue a task; " +
			"river-raw: River's own client, InsertMany in batches of 100, a no-op worker, timed until its subscription has told of every completion.",
	}
}

// peerSet is localtasks, then the Go peers, then Python.
func peerSet(lt system, peers []system, python system) []system {
	return append(append([]system{lt}, peers...), python)
}

// goPeers are the Go peers of W1 and W2, running work on workers
// goroutines, each used idiomatically. Each is timed from the first
// submission until every result is in place (in a slice, or read from its
// future); the values are checked after the clock stops, as localtasks's
// are.
func goPeers(workers int, work func(int) int) []system {
	wrap := func(f func(n int) ([]int, error)) func(context.Context, params) (measurement, error) {
		return func(ctx context.Context, p params) (measurement, error) {
			start := time.Now()
			res, err := f(p.N)
			m := measurement{Tasks: p.N, Seconds: time.Since(start).Seconds()}
			if err == nil {
				err = checkAll(res)
			}
			return m, err
		}
	}
	return []system{
		// One goroutine a task: it ignores the worker bound, as raw
		// goroutines do.
		{name: "goroutines", run: wrap(func(n int) ([]int, error) {
			res := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { res[i] = work(i) })
			}
			wg.Wait()
			return res, nil
		})},
		{name: "errgroup", run: wrap(func(n int) ([]int, error) {
			res := make([]int, n)
			var g errgroup.Group
			g.SetLimit(workers)
			for i := range n {
				g.Go(func() error { res[i] = work(i); return nil })
			}
			return res, g.Wait()
		})},
		{name: "pond", run: wrap(func(n int) ([]int, error) {
			p := pond.NewResultPool[int](workers)
			defer p.StopAndWait()
			fs := make([]pond.ResultTask[int], n)
			for i := range n {
				fs[i] = p.Submit(func() int { return work(i) })
			}
			res := make([]int, n)
			for i, f := range fs {
				v, err := f.Wait()
				if err != nil {
					return nil, err
				}
				res[i] = v
			}
			return res, nil
		})},
		{name: "ants", run: wrap(func(n int) ([]int, error) {
			p, err := ants.NewPool(workers)
			if err != nil {
				return nil, err
			}
			defer p.Release()
			res := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				if err := p.Submit(func() { res[i] = work(i); wg.Done() }); err != nil {
					return nil, err
				}
			}
			wg.Wait()
			return res, nil
		})},
		// The floor: workers goroutines reading indexes from a channel.
		{name: "channels", run: wrap(func(n int) ([]int, error) {
			res := make([]int, n)
			jobs := make(chan int, 1024)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := range jobs {
						res[i] = work(i)
					}
				})
			}
			for i := range n {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			return res, nil
		})},
	}
}

// checkAll checks that res[i] == i.
func checkAll(res []int) error {
	for i, v := range res {
		if v != i {
			return fmt.Errorf("result %d is %d, want %d", i, v, i)
		}
	}
	return nil
}

func checkIdentity(i, v int) error {
	if v != i {
		return fmt.Errorf("task %d returned %d", i, v)
	}
	return nil
}

// ltThreadPool measures localtasks on a thread pool of workers: n tasks of
// t, enqueued with args(i), then each waited for by its ID, checked
// SUCCESSFUL and checked by check.
func ltThreadPool[A, R any](ctx context.Context, workers, n int, t *localtasks.Task[A, R], args func(int) A, check func(int, R) error) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers, Config: localtasks.Config{MaxResults: n}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	return ltEnqueueWait(ctx, b, n, t, args, check)
}

// ltNoResult measures localtasks on a thread pool of workers, with n runs
// of noopTask that keep no result (WithDiscardResult): enqueued, then
// waited for by Drain, as no ID finds a run once it finished; timed from
// the first enqueue until Drain returns, and checked by the Succeeded
// counter.
func ltNoResult(ctx context.Context, workers, n int) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	t := noopTask.Using(localtasks.WithDiscardResult())
	start := time.Now()
	for i := range n {
		if _, err := t.Enqueue(ctx, b, i); err != nil {
			return measurement{}, err
		}
	}
	if err := b.Drain(ctx); err != nil {
		return measurement{}, err
	}
	m := measurement{Tasks: n, Seconds: time.Since(start).Seconds()}
	if c := b.Counters(); c.Succeeded != uint64(n) {
		return measurement{}, fmt.Errorf("%d of %d runs succeeded", c.Succeeded, n)
	}
	return m, nil
}

// w1Batch is the size of localtasks-many's batches.
const w1Batch = 1000

// ltThreadPoolMany is W1 on a thread pool through EnqueueMany, batch
// arguments at a time, timed as ltEnqueueWait times it.
func ltThreadPoolMany(ctx context.Context, workers, n, batch int) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers, Config: localtasks.Config{MaxResults: n}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	return ltEnqueueManyWait(ctx, b, n, batch)
}

// ltEnqueueManyWait enqueues n runs of noopTask on b through
// Task.EnqueueMany, batch arguments at a time, and waits for each by its
// ID, timed as ltEnqueueWait times it.
func ltEnqueueManyWait(ctx context.Context, b localtasks.Backend, n, batch int) (measurement, error) {
	hs := make([]localtasks.Handle[int], 0, n)
	args := make([]int, 0, batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		args = args[:0]
		for j := i; j < min(i+batch, n); j++ {
			args = append(args, j)
		}
		got, err := noopTask.EnqueueMany(ctx, b, args)
		if err != nil {
			return measurement{}, err
		}
		hs = append(hs, got...)
	}
	values := make([]int, n)
	for i, h := range hs {
		res, err := b.Wait(ctx, h.ID())
		if err != nil {
			return measurement{}, err
		}
		if res.Status != localtasks.StatusSuccessful {
			return measurement{}, fmt.Errorf("task %d ended %v: %v", i, res.Status, res.Errors)
		}
		if values[i], err = localtasks.Value[int](res); err != nil {
			return measurement{}, err
		}
	}
	m := measurement{Tasks: n, Seconds: time.Since(start).Seconds()}
	for i, v := range values {
		if err := checkIdentity(i, v); err != nil {
			return measurement{}, err
		}
	}
	return m, nil
}

// ltEnqueueWait enqueues n tasks on b and waits for each by its ID, timed
// from the first enqueue to the last result read and found SUCCESSFUL. The
// values are checked after the clock stops.
func ltEnqueueWait[A, R any](ctx context.Context, b localtasks.Backend, n int, t *localtasks.Task[A, R], args func(int) A, check func(int, R) error) (measurement, error) {
	ids := make([]string, n)
	start := time.Now()
	for i := range n {
		h, err := t.Enqueue(ctx, b, args(i))
		if err != nil {
			return measurement{}, err
		}
		ids[i] = h.ID()
	}
	values := make([]R, n)
	for i, id := range ids {
		res, err := b.Wait(ctx, id)
		if err != nil {
			return measurement{}, err
		}
		if res.Status != localtasks.StatusSuccessful {
			return measurement{}, fmt.Errorf("task %d ended %v: %v", i, res.Status, res.Errors)
		}
		if values[i], err = localtasks.Value[R](res); err != nil {
			return measurement{}, err
		}
	}
	m := measurement{Tasks: n, Seconds: time.Since(start).Seconds()}
	for i, v := range values { // after the clock: W3's check hashes
		if err := check(i, v); err != nil {
			return measurement{}, err
		}
	}
	return m, nil
}
