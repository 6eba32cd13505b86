package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// pgURLEnv names the PostgreSQL database of the River systems: W1 measures
// localtasks on River, and River's own client, when it is set
// (adapters/river/scripts/postgres.sh starts a throwaway server and prints
// it), and leaves them out otherwise.
const pgURLEnv = "LOCALTASKS_PG_URL"

const (
	// riverDiv divides W1's N for the River systems: a River task is a
	// few database round trips, a thousand times slower than one in
	// memory, and the quick run must stay quick. Their quick size, 2,000
	// tasks, is still large beside the ~0.25 s River takes to flush its
	// last completions, which at 1,000 tasks flattered the adapter.
	riverDiv = 10
	// riverBatch is the size of the batches of river-raw's InsertMany and
	// of localtasks-river's EnqueueMany.
	riverBatch = 100
	// riverCooldown is the fetch cooldown of every River client here:
	// River's least, for tasks this short. River's default of 100 ms
	// would bound 8 workers to 80 tasks a second.
	riverCooldown = time.Millisecond
)

// riverSystems are W1's systems on River, with workers River workers in
// the measuring process, on the database of $LOCALTASKS_PG_URL; none when
// it is not set:
//
//   - localtasks-river: the River adapter, enqueued with Task.EnqueueMany
//     in batches of riverBatch;
//   - localtasks-river-each: the same, enqueued one Task.Enqueue a task;
//   - river-raw: River's own client, InsertMany in the same batches, a
//     no-op worker, each completion read from the client's subscription.
func riverSystems(workers int) []system {
	url := os.Getenv(pgURLEnv)
	if url == "" {
		return nil
	}
	return []system{
		{name: "localtasks-river", div: riverDiv, run: func(ctx context.Context, p params) (measurement, error) {
			return ltRiver(ctx, url, workers, p.N, riverBatch)
		}},
		{name: "localtasks-river-each", div: riverDiv, run: func(ctx context.Context, p params) (measurement, error) {
			return ltRiver(ctx, url, workers, p.N, 0)
		}},
		{name: "river-raw", div: riverDiv, run: func(ctx context.Context, p params) (measurement, error) {
			return riverRaw(ctx, url, workers, p.N, riverBatch)
		}},
	}
}

// riverPool connects to url, creates River's tables if missing, and empties
// river_job: each run starts from empty tables, as the other systems start
// from empty memory.
func riverPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connecting to $%s: %w", pgURLEnv, err)
	}
	if err := ltriver.Migrate(ctx, pool, ""); err != nil {
		pool.Close()
		return nil, err
	}
	if _, err := pool.Exec(ctx, "TRUNCATE river_job"); err != nil {
		pool.Close()
		return nil, fmt.Errorf("emptying river_job: %w", err)
	}
	return pool, nil
}

// ltRiver measures n runs of noopTask through the River adapter, enqueued
// batch at a time with Task.EnqueueMany, or with batch 0 one Task.Enqueue
// a run, then each waited for by its ID.
func ltRiver(ctx context.Context, url string, workers, n, batch int) (measurement, error) {
	pool, err := riverPool(ctx, url)
	if err != nil {
		return measurement{}, err
	}
	defer pool.Close()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Name: "bench", Workers: workers, Tasks: []string{noopTask.Name()},
		FetchCooldown: riverCooldown})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	if batch == 0 {
		return ltEnqueueWait(ctx, b, n, noopTask, func(i int) int { return i }, checkIdentity)
	}
	return ltEnqueueManyWait(ctx, b, n, batch)
}

// riverRaw measures W1's work on River's own client, as River's users
// write it: a client with workers workers on the default queue, jobs
// inserted batch at a time with InsertMany, a no-op worker that writes its
// value to memory (River keeps no value, only the job's state), timed from
// the first insert until the client's subscription has told of every
// job's completion, which River sends once the completion is written.
func riverRaw(ctx context.Context, url string, workers, n, batch int) (measurement, error) {
	pool, err := riverPool(ctx, url)
	if err != nil {
		return measurement{}, err
	}
	defer pool.Close()
	w := &w8Worker{values: make([]int, n)}
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:       ws,
		FetchCooldown: riverCooldown,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return measurement{}, err
	}
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed}})
	defer cancel()
	if err := client.Start(ctx); err != nil {
		return measurement{}, err
	}
	defer client.Stop(ctx)
	ps := make([]river.InsertManyParams, 0, batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		ps = ps[:0]
		for j := i; j < min(i+batch, n); j++ {
			ps = append(ps, river.InsertManyParams{Args: w8Args{I: j}})
		}
		if _, err := client.InsertMany(ctx, ps); err != nil {
			return measurement{}, fmt.Errorf("river: InsertMany: %w", err)
		}
	}
	for done := 0; done < n; done++ {
		ev, ok := <-events
		if !ok {
			return measurement{}, fmt.Errorf("river: the subscription closed after %d of %d completions", done, n)
		}
		if ev.Kind != river.EventKindJobCompleted {
			return measurement{}, fmt.Errorf("river: job %d: %s", ev.Job.ID, ev.Kind)
		}
	}
	m := measurement{Tasks: n, Seconds: time.Since(start).Seconds()}
	for i, v := range w.values {
		if err := checkIdentity(i, v); err != nil {
			return measurement{}, err
		}
	}
	return m, nil
}
