package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// pgURLEnv names the PostgreSQL database of the River system: W1 measures
// localtasks on River too when it is set (adapters/river/scripts/postgres.sh
// starts a throwaway server and prints it), and leaves it out otherwise.
const pgURLEnv = "LOCALTASKS_PG_URL"

// riverSystems is W1's localtasks-river: the same task through the River
// adapter, with workers River workers in this process, on the database of
// $LOCALTASKS_PG_URL; none when it is not set. Its fetch cooldown is River's
// least, 1 ms, for tasks this short: River's default of 100 ms would bound
// it to 80 tasks a second.
func riverSystems(workers int) []system {
	url := os.Getenv(pgURLEnv)
	if url == "" {
		return nil
	}
	return []system{{name: "localtasks-river", run: func(ctx context.Context, p params) (measurement, error) {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			return measurement{}, fmt.Errorf("connecting to $%s: %w", pgURLEnv, err)
		}
		defer pool.Close()
		if err := ltriver.Migrate(ctx, pool, ""); err != nil {
			return measurement{}, err
		}
		// Each run starts from empty tables, as the other systems start
		// from empty memory.
		if _, err := pool.Exec(ctx, "TRUNCATE river_job"); err != nil {
			return measurement{}, fmt.Errorf("emptying river_job: %w", err)
		}
		b, err := ltriver.New(ctx, pool, ltriver.Config{Name: "bench", Workers: workers, Tasks: []string{noopTask.Name()},
			FetchCooldown: time.Millisecond})
		if err != nil {
			return measurement{}, err
		}
		defer b.Close(ctx)
		return ltEnqueueWait(ctx, b, p.N, noopTask, func(i int) int { return i }, checkIdentity)
	}}}
}
