package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// w8Args is the River job of W8: a no-op on its index.
type w8Args struct {
	I int `json:"i"`
}

func (w8Args) Kind() string { return "bench_noop" }

// w8Worker works W8's River jobs, writing each value to memory: River
// keeps no value, only the job's state.
type w8Worker struct {
	river.WorkerDefaults[w8Args]
	values []int
}

func (w *w8Worker) Work(ctx context.Context, job *river.Job[w8Args]) error {
	w.values[job.Args.I] = noop(job.Args.I)
	return nil
}

// w8River measures River on its SQLite driver, on a new file: a client with
// 8 workers in this process, its jobs inserted by the producers one at a
// time (batch 0: Insert, which commits each job), or batch at a time with
// InsertMany. A job is done when the client's subscription says it
// completed: River sends that once the completer has written the
// completion. Stopping the client finishes what it has under way.
func w8River(ctx context.Context, n, batch int) (measurement, error) {
	dir, cleanup, err := w8Dir()
	if err != nil {
		return measurement{}, err
	}
	defer cleanup()
	db, err := w8OpenSQLite(filepath.Join(dir, "river.db"))
	if err != nil {
		return measurement{}, err
	}
	defer db.Close()
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return measurement{}, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return measurement{}, fmt.Errorf("river: migrating: %w", err)
	}
	w := &w8Worker{values: make([]int, n)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	// Fetch as often as River allows: its defaults (100 ms cooldown, 1 s
	// poll; SQLite has no LISTEN) would bound a run of short jobs to a
	// few a second.
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: w8Workers}},
		Workers:           workers,
		FetchCooldown:     river.FetchCooldownMin,
		FetchPollInterval: river.FetchPollIntervalMin,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return measurement{}, err
	}
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed}})
	defer cancel()
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	// failed is closed, with failure set, at the first job that fails:
	// every waiter returns then, rather than waiting for the harness's
	// timeout.
	failed := make(chan struct{})
	var failure error
	go func() {
		for ev := range events {
			var a w8Args
			if err := json.Unmarshal(ev.Job.EncodedArgs, &a); err != nil || ev.Kind != river.EventKindJobCompleted {
				if failure == nil {
					failure = fmt.Errorf("river: job %d: %s, %v", ev.Job.ID, ev.Kind, err)
					close(failed)
				}
				continue
			}
			close(done[a.I])
		}
	}()
	if err := client.Start(ctx); err != nil {
		return measurement{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			client.Stop(ctx)
		}
	}()
	wait := func(i int) func() error {
		return func() error {
			select {
			case <-done[i]:
			case <-failed:
				return failure
			}
			if w.values[i] != i {
				return fmt.Errorf("river: job %d returned %d", i, w.values[i])
			}
			return nil
		}
	}
	submit := func(i int) (func() error, error) {
		if _, err := client.Insert(ctx, w8Args{I: i}, nil); err != nil {
			return nil, err
		}
		return wait(i), nil
	}
	if batch > 0 {
		// Each producer gathers batch of its indexes and inserts them in
		// one InsertMany; the last call of a producer sends the rest.
		submit = w8Batcher(n, batch, func(is []int) error {
			ps := make([]river.InsertManyParams, len(is))
			for k, i := range is {
				ps[k] = river.InsertManyParams{Args: w8Args{I: i}}
			}
			_, err := client.InsertMany(ctx, ps)
			return err
		}, wait)
	}
	return produce(n, w8Producers, submit, func() error {
		stopped = true
		return client.Stop(ctx)
	})
}

// w8Batcher makes a submit for produce that inserts each producer's runs
// batch at a time: produce's producer g submits g, g+P, ...; the runs of a
// producer gather until batch of them, or its last, then go in one call.
func w8Batcher(n, batch int, insert func([]int) error, wait func(int) func() error) func(int) (func() error, error) {
	pending := make([][]int, w8Producers) // each producer's, touched by it alone
	return func(i int) (func() error, error) {
		g := i % w8Producers
		pending[g] = append(pending[g], i)
		if len(pending[g]) == batch || i+w8Producers >= n {
			if err := insert(pending[g]); err != nil {
				return nil, err
			}
			pending[g] = pending[g][:0]
		}
		return wait(i), nil
	}
}
