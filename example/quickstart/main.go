// Command quickstart is a tour of localtasks: it "fetches" 20 pages (a timer,
// not the network) on 4 workers, shows each finish, retries the two that fail
// at first, then looks every result up by its ID, as a web handler would.
// Last, it hashes on a process pool: CPU work in worker processes.
//
// Its two tasks are defined in example/tasks, which example/distributed
// runs on River and PostgreSQL too.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/example/tasks"
)

func main() {
	// First thing in main: in a process-pool worker, Init serves tasks and
	// never returns; in the program itself it returns at once.
	localtasks.Init()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		log.Fatal(err)
	}

	// Watch the pool: an event when a task is enqueued, when each attempt
	// starts, and when it finishes. The buffer holds them all: none is dropped.
	const total = 20
	sub := pool.Subscribe(4 * total)
	progress := make(chan struct{})
	go func() {
		defer close(progress)
		done := 0
		for ev := range sub.C() {
			r := ev.Result
			switch {
			case ev.Kind == localtasks.EventStarted && r.Attempts > 1:
				last := r.Errors[len(r.Errors)-1]
				fmt.Printf("[  retry] attempt %d of fetch %v after %q\n", r.Attempts, r.Args, last.Message)
			case ev.Kind == localtasks.EventFinished:
				done++
				verb, took := "done", r.FinishedAt.Sub(r.LastAttemptedAt).Round(10*time.Millisecond)
				if r.Status != localtasks.StatusSuccessful {
					verb = r.Status.String()
				}
				fmt.Printf("[%2d/%d] %s fetch %v (%v)\n", done, total, verb, r.Args, took)
			}
		}
	}()

	// Enqueue returns at once with a handle. Keep only the IDs, as a web
	// handler would when it answers 202 Accepted.
	var ids []string
	for i := 1; i <= total; i++ {
		h, err := tasks.Fetch.Enqueue(ctx, pool, fmt.Sprintf("https://example.com/page/%d", i))
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, h.ID())
	}
	fmt.Printf("enqueued %d fetches on 4 workers\n", total)

	// Later, get a typed handle back from an ID and wait for the run.
	for _, id := range ids {
		h, err := tasks.Fetch.GetResult(ctx, pool, id)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := h.Wait(ctx); err != nil {
			fmt.Println("failed:", err) // the last attempt's *TaskError
		}
	}
	sub.Close() // closes C; the goroutine still reads what is buffered
	<-progress

	// Or ask the backend for the untyped snapshot, and type its value.
	fmt.Println("\nresults, looked up by ID:")
	for _, id := range ids {
		res, err := pool.GetResult(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		page, err := localtasks.Value[tasks.Page](res) // the value, or the run's error
		detail := fmt.Sprintf("%-28s %5d bytes", page.URL, page.Bytes)
		if err != nil {
			detail = err.Error()
		}
		fmt.Printf("  %s… %-10s attempts=%d  %s\n", id[:8], res.Status, res.Attempts, detail)
	}

	// Close stops the workers; running tasks get until ctx ends to finish.
	if err := pool.Close(ctx); err != nil {
		log.Fatal(err)
	}

	cpuWork(ctx)
}

// cpuWork runs CPU-bound tasks on a process pool: the program's own binary,
// started again as 2 worker processes, which run the same task code.
func cpuWork(ctx context.Context) {
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer procs.Close(ctx)
	fmt.Printf("\nhashing on a process pool of 2 workers (this process is pid %d):\n", os.Getpid())
	var hs []localtasks.Handle[string]
	for _, seed := range strings.Fields("alpha beta gamma delta") {
		h, err := tasks.Digest.Enqueue(ctx, procs, seed)
		if err != nil {
			log.Fatal(err)
		}
		hs = append(hs, h)
	}
	for _, h := range hs {
		digest, err := h.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		res, _ := h.Result(ctx)
		fmt.Printf("  %-5v %s in %v\n", res.Args, digest, res.FinishedAt.Sub(res.StartedAt).Round(time.Millisecond))
	}
}
