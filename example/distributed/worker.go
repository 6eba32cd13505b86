package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/example/tasks"
)

// taskNames are the tasks the workers run: naming them makes New refuse
// one whose argument or result JSON cannot carry, rather than skip it.
var taskNames = []string{tasks.Fetch.Name(), tasks.Digest.Name()}

// stopTimeout is how long a stopping worker waits for its running tasks.
const stopTimeout = 30 * time.Second

// work runs the tasks until ctx ends, then closes the backend: running
// tasks may finish within stopTimeout; any still running then go back to
// River's queue for another worker, and work returns an error.
func work(ctx context.Context, pool *pgxpool.Pool, cfg config, logger *slog.Logger, stdout io.Writer) error {
	b, err := ltriver.New(ctx, pool, ltriver.Config{
		Name:    "river",
		ID:      cfg.id,
		Workers: cfg.workers,
		Tasks:   taskNames,
		Schema:  cfg.schema,
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	id := b.Client().ID()
	fmt.Fprintf(stdout, "worker %s ready\n", id)

	<-ctx.Done()
	logger.Info("stopping: waiting for running tasks", "worker", id, "timeout", stopTimeout)
	cctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := b.Close(cctx); err != nil {
		return fmt.Errorf("worker %s: %w", id, err)
	}
	logger.Info("stopped", "worker", id)
	return nil
}
