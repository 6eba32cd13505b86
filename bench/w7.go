package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

func w7() *workload {
	return &workload{
		id: "W7", title: "isolation",
		sizes: [3]params{{Dur: 5 * time.Second, Rounds: 2_000}, {Dur: 2 * time.Second, Rounds: 2_000}, {Dur: 200 * time.Millisecond, Rounds: 100}},
		systems: []system{
			{name: "idle", run: func(ctx context.Context, p params) (measurement, error) { return w7Run(ctx, p, nil) }},
			{name: "localtasks-thread", run: func(ctx context.Context, p params) (measurement, error) {
				b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: runtime.NumCPU()})
				if err != nil {
					return measurement{}, err
				}
				return w7Run(ctx, p, b)
			}},
			{name: "localtasks-proc", run: func(ctx context.Context, p params) (measurement, error) {
				b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: runtime.NumCPU()})
				if err != nil {
					return measurement{}, err
				}
				return w7Run(ctx, p, b)
			}},
			// Not a target: the same, with the workers at the parent's
			// scheduling priority (the default until the workers' default
			// became the lowest), for comparison.
			{name: "localtasks-proc-parentnice", run: func(ctx context.Context, p params) (measurement, error) {
				b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: runtime.NumCPU(), Nice: localtasks.ProcessPoolNiceParent})
				if err != nil {
					return measurement{}, err
				}
				return w7Run(ctx, p, b)
			}},
		},
		targets: []target{latencyAtMost("localtasks-proc", "idle", 3)},
		legend: "W7: a client makes sequential HTTP requests to a trivial net/http handler on loopback, in the same process, for the duration; " +
			"tasks = requests; idle = no load; localtasks-thread / localtasks-proc = W3's CPU tasks kept queued on a thread / process pool of " +
			"NumCPU workers throughout. p50/p99 = request latency. ratio = 3 x idle p99 / localtasks-proc p99 (>= 1 means p99 <= 3x idle).",
	}
}

// w7Run serves a trivial handler on loopback and measures sequential
// requests to it for p.Dur, while b (if not nil) runs CPU tasks on every
// worker, enough queued that none idles. It closes b.
func w7Run(ctx context.Context, p params, b localtasks.Backend) (measurement, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return measurement{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
		return err
	}
	if err := get(); err != nil { // the connection, outside the clock
		return measurement{}, err
	}

	var bg int
	var loadErr error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if b != nil {
		started := make(chan struct{})
		wg.Go(func() { bg, loadErr = keepBusy(ctx, b, p.Rounds, started, stop) })
		<-started
	}

	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < p.Dur {
		t0 := time.Now()
		if err := get(); err != nil {
			return measurement{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	secs := time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	if b != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b.Close(cctx) // cancels the queued tasks
		cancel()
	}
	if loadErr != nil {
		return measurement{}, loadErr
	}
	slices.Sort(lat)
	return measurement{Tasks: len(lat), Seconds: secs, Extra: map[string]float64{
		"p50_us": percentileUS(lat, 50), "p99_us": percentileUS(lat, 99), "bg_tasks": float64(bg),
	}}, nil
}

// keepBusy keeps 4 CPU tasks a CPU queued on b until stop, waiting for the
// oldest before enqueuing another. It closes started once the first task
// has finished, so every worker has been busy. It returns how many tasks
// finished.
func keepBusy(ctx context.Context, b localtasks.Backend, rounds int, started, stop chan struct{}) (int, error) {
	markStarted := sync.OnceFunc(func() { close(started) })
	defer markStarted() // on an error too: w7Run waits for it
	depth := 4 * runtime.NumCPU()
	var ids []string
	finished := 0
	for i := 0; ; i++ {
		for len(ids) < depth {
			h, err := shaTask.Enqueue(ctx, b, shaArgs{Seed: i, Rounds: rounds})
			if err != nil {
				return finished, err
			}
			ids = append(ids, h.ID())
		}
		res, err := b.Wait(ctx, ids[0])
		if err != nil {
			return finished, err
		}
		if res.Status != localtasks.StatusSuccessful {
			return finished, fmt.Errorf("load task ended %v: %v", res.Status, res.Errors)
		}
		ids = ids[1:]
		finished++
		markStarted()
		select {
		case <-stop:
			return finished, nil
		default:
		}
	}
}
