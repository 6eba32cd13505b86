package river_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// BenchmarkEnqueueWait is the bench's W1 on the adapter: runs of a no-op
// task enqueued one at a time or in one batch, on 8 workers, each waited
// for, reported in tasks a second.
func BenchmarkEnqueueWait(b *testing.B) {
	const n = 1000
	args := make([]localtaskstest.EchoArgs, n)
	for i := range args {
		args[i] = localtaskstest.EchoArgs{N: i}
	}
	enqueues := map[string]func(context.Context, localtasks.Backend) ([]localtasks.Handle[localtaskstest.EchoArgs], error){
		"Enqueue": func(ctx context.Context, be localtasks.Backend) ([]localtasks.Handle[localtaskstest.EchoArgs], error) {
			hs := make([]localtasks.Handle[localtaskstest.EchoArgs], n)
			for i, a := range args {
				h, err := localtaskstest.Echo.Enqueue(ctx, be, a)
				if err != nil {
					return nil, err
				}
				hs[i] = h
			}
			return hs, nil
		},
		"EnqueueMany": func(ctx context.Context, be localtasks.Backend) ([]localtasks.Handle[localtaskstest.EchoArgs], error) {
			return localtaskstest.Echo.EnqueueMany(ctx, be, args)
		},
	}
	for _, name := range []string{"Enqueue", "EnqueueMany"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			be, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(b), Workers: 8, Logger: quiet, FetchCooldown: time.Millisecond})
			require.NoError(b, err)
			defer be.Close(ctx)
			start := time.Now()
			for b.Loop() {
				hs, err := enqueues[name](ctx, be)
				require.NoError(b, err)
				for _, h := range hs {
					_, err := h.Wait(ctx)
					require.NoError(b, err)
				}
			}
			b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "tasks/s")
		})
	}
}

// BenchmarkSnapshot is the first page (SnapshotLimitDefault runs) of a
// producer's Snapshot among n queued runs and n finished (cancelled)
// ones: the grouped COUNT reads every job of the
// backend's queues, and the page only what it lists.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			schema := newSchema(b)
			be, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
			require.NoError(b, err)
			defer be.Close(ctx)
			args := make([]localtaskstest.EchoArgs, 1000)
			for range 2 * n / len(args) {
				_, err := localtaskstest.Echo.EnqueueMany(ctx, be, args)
				require.NoError(b, err)
			}
			_, err = pool.Exec(ctx, "UPDATE "+pgx.Identifier{schema, "river_job"}.Sanitize()+
				" SET state = 'cancelled', finalized_at = now() WHERE id % 2 = 0")
			require.NoError(b, err)
			_, err = pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{schema, "river_job"}.Sanitize())
			require.NoError(b, err)
			b.Run("Snapshot", func(b *testing.B) {
				for b.Loop() {
					snap, err := be.Snapshot(ctx, localtasks.SnapshotOptions{})
					require.NoError(b, err)
					require.Equal(b, n, snap.Counts.Ready)
				}
			})
		})
	}
}
