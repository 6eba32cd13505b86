package river_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// txRan records the arguments of the runs of txTask, per schema.
var txRan sync.Map // "schema/n" -> struct{}

type txArgs struct {
	Schema string
	N      int
}

var txTask = localtasks.Define("river_test.tx", func(ctx context.Context, a txArgs) (int, error) {
	txRan.Store(a, struct{}{})
	return a.N * 10, nil
})

type txBundle struct {
	b      *ltriver.Backend
	schema string
	orders string // a table of the application's, in schema
}

// setupTx returns a backend with one worker on a schema of its own, and
// an application table there for the writes that go with the enqueues.
func setupTx(t *testing.T, ctx context.Context, cfg ltriver.Config) txBundle {
	t.Helper()
	schema := newSchema(t)
	orders := pgx.Identifier{schema, "orders"}.Sanitize()
	_, err := pool.Exec(ctx, "CREATE TABLE "+orders+" (id int PRIMARY KEY)")
	require.NoError(t, err)
	cfg.Schema, cfg.Logger, cfg.FetchPollInterval = schema, quiet, 20*time.Millisecond
	b, err := ltriver.New(ctx, pool, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return txBundle{b: b, schema: schema, orders: orders}
}

func (x txBundle) orderExists(t *testing.T, ctx context.Context, id int) bool {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+x.orders+" WHERE id = $1", id).Scan(&n))
	return n == 1
}

func TestEnqueueTx(t *testing.T) {
	t.Parallel()

	t.Run("CommitRunsTheTaskAndKeepsTheWrite", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		x := setupTx(t, ctx, ltriver.Config{Workers: 1})
		sub := x.b.Subscribe(16)
		defer sub.Close()

		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		_, err = tx.Exec(ctx, "INSERT INTO "+x.orders+" (id) VALUES (1)")
		require.NoError(t, err)
		h, err := ltriver.EnqueueTx(ctx, x.b, tx, txTask, txArgs{x.schema, 1})
		require.NoError(t, err)
		require.Equal(t, localtasks.Enqueued, h.Disposition())
		_, err = h.Result(ctx)
		require.ErrorIs(t, err, localtasks.ErrResultNotFound, "outside the tx, the run is not there before commit")
		require.NoError(t, tx.Commit(ctx))

		got, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, 10, got)
		require.True(t, x.orderExists(t, ctx, 1))
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)

		// The first event is the run's start, not an enqueue: no
		// EventEnqueued for a run enqueued in a transaction.
		select {
		case ev := <-sub.C():
			require.NotEqual(t, localtasks.EventEnqueued, ev.Kind, "%+v", ev)
			require.Equal(t, h.ID(), ev.Result.ID)
		case <-ctx.Done():
			t.Fatal("no event of the run")
		}
	})

	t.Run("RollbackLeavesNoRunAndNoWrite", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		x := setupTx(t, ctx, ltriver.Config{Workers: 1})
		sub := x.b.Subscribe(16)
		defer sub.Close()

		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO "+x.orders+" (id) VALUES (2)")
		require.NoError(t, err)
		h, err := ltriver.EnqueueTx(ctx, x.b, tx, txTask, txArgs{x.schema, 2})
		require.NoError(t, err)
		r, err := x.b.EnqueueTx(ctx, tx, txTask.Definition(), txArgs{x.schema, 3}, txTask.Options())
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))

		for _, id := range []string{h.ID(), r.ID} {
			_, err = x.b.GetResult(ctx, id)
			require.ErrorIs(t, err, localtasks.ErrResultNotFound, id)
		}
		_, err = h.Wait(ctx)
		require.ErrorIs(t, err, localtasks.ErrResultNotFound)
		require.False(t, x.orderExists(t, ctx, 2), "the write rolled back with the run")

		// A run enqueued after them runs on the one worker; the rolled
		// back ones never did, and were never announced.
		after, err := txTask.Enqueue(ctx, x.b, txArgs{x.schema, 4})
		require.NoError(t, err)
		_, err = after.Wait(ctx)
		require.NoError(t, err)
		for _, n := range []int{2, 3} {
			_, ran := txRan.Load(txArgs{x.schema, n})
			require.False(t, ran, "run %d of a rolled back transaction ran", n)
		}
		select {
		case ev := <-sub.C():
			require.Equal(t, localtasks.EventEnqueued, ev.Kind)
			require.Equal(t, after.ID(), ev.Result.ID, "the first event is the committed enqueue's")
		case <-ctx.Done():
			t.Fatal("no event")
		}
	})

	t.Run("RefusalsAreEnqueuesAndLeaveTheTxUsable", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		x := setupTx(t, ctx, ltriver.Config{})
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck

		cases := []struct {
			name string
			def  localtasks.Definition
			args any
			opts localtasks.Options
			want error
		}{
			{"JSON cannot carry it", funcArg.Definition(), withFunc{}, funcArg.Options(), localtasks.ErrInvalidTask},
			{"wrong argument type", txTask.Definition(), "text", txTask.Options(), localtasks.ErrInvalidTask},
			{"perpetual", txTask.Definition(), txArgs{}, txTask.Using(localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute})).Options(), errors.ErrUnsupported},
			{"unknown queue", txTask.Definition(), txArgs{}, txTask.Using(localtasks.WithQueue("nowhere")).Options(), nil},
		}
		for _, c := range cases {
			_, plainErr := x.b.Enqueue(ctx, c.def, c.args, c.opts)
			require.Error(t, plainErr, c.name)
			_, err := x.b.EnqueueTx(ctx, tx, c.def, c.args, c.opts)
			require.Error(t, err, c.name)
			require.Equal(t, plainErr.Error(), err.Error(), "%s: the same error as Enqueue", c.name)
			if c.want != nil {
				require.ErrorIs(t, err, c.want, c.name)
			}
		}
		_, err = ltriver.EnqueueTx(ctx, x.b, nil, txTask, txArgs{})
		require.ErrorIs(t, err, localtasks.ErrInvalidTask)
		require.ErrorContains(t, err, "transaction is nil")

		// The transaction goes on after the refusals.
		_, err = tx.Exec(ctx, "INSERT INTO "+x.orders+" (id) VALUES (5)")
		require.NoError(t, err)
		h, err := ltriver.EnqueueTx(ctx, x.b, tx, txTask, txArgs{x.schema, 5})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		require.True(t, x.orderExists(t, ctx, 5))
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusReady, res.Status)

		require.NoError(t, x.b.Close(ctx))
		tx2, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx2.Rollback(ctx) //nolint:errcheck
		_, err = ltriver.EnqueueTx(ctx, x.b, tx2, txTask, txArgs{})
		require.ErrorIs(t, err, localtasks.ErrClosed)
	})

	t.Run("KeysSeeTheTxAndReplaceRollsBack", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		x := setupTx(t, ctx, ltriver.Config{})
		keyed := txTask.Using(localtasks.WithKey("order-7"), localtasks.WithDelay(time.Hour))
		old, err := keyed.Enqueue(ctx, x.b, txArgs{x.schema, 70})
		require.NoError(t, err)

		// In a tx that rolls back, a replace cancels nothing.
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		opts := keyed.Options()
		opts.Replace = true
		r, err := x.b.EnqueueTx(ctx, tx, txTask.Definition(), txArgs{x.schema, 71}, opts)
		require.NoError(t, err)
		require.Equal(t, localtasks.Replaced, r.Disposition)
		again, err := ltriver.EnqueueTx(ctx, x.b, tx, keyed, txArgs{x.schema, 72})
		require.NoError(t, err)
		require.Equal(t, localtasks.AlreadyEnqueued, again.Disposition(), "the key is held by the tx's own run")
		require.Equal(t, r.ID, again.ID())
		require.NoError(t, tx.Rollback(ctx))
		res, err := old.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusScheduled, res.Status, "the replaced run is back")
		_, err = x.b.GetResult(ctx, r.ID)
		require.ErrorIs(t, err, localtasks.ErrResultNotFound)

		// In one that commits, it does, and a Wait on the old run hears of it.
		waited := make(chan localtasks.TaskResult, 1)
		go func() {
			res, _ := x.b.Wait(ctx, old.ID())
			waited <- res
		}()
		tx, err = pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		r, err = x.b.EnqueueTx(ctx, tx, txTask.Definition(), txArgs{x.schema, 73}, opts)
		require.NoError(t, err)
		require.Equal(t, localtasks.Replaced, r.Disposition)
		require.NoError(t, tx.Commit(ctx))
		require.Equal(t, localtasks.StatusCancelled, (<-waited).Status)
		res, err = x.b.GetResult(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusScheduled, res.Status)
	})

	t.Run("DeferredRuns", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		clock := localtaskstest.NewFakeClock(time.Now())
		x := setupTx(t, ctx, ltriver.Config{Workers: 1, Clock: clock})
		later := txTask.Using(localtasks.WithDelay(time.Hour))

		rolled, err := pool.Begin(ctx)
		require.NoError(t, err)
		gone, err := ltriver.EnqueueTx(ctx, x.b, rolled, later, txArgs{x.schema, 8})
		require.NoError(t, err)
		require.NoError(t, rolled.Rollback(ctx))

		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		h, err := ltriver.EnqueueTx(ctx, x.b, tx, later, txArgs{x.schema, 9})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusScheduled, res.Status)

		// The timers of both fire; the rolled back run's finds nothing.
		clock.Advance(time.Hour)
		got, err := h.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, 90, got)
		_, err = gone.Result(ctx)
		require.ErrorIs(t, err, localtasks.ErrResultNotFound)
		_, ran := txRan.Load(txArgs{x.schema, 8})
		require.False(t, ran)
	})
}
