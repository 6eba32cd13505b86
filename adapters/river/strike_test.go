package river_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// newBackend returns a backend on schema, closed at the end of the test.
func newBackend(t *testing.T, ctx context.Context, schema string, cfg ltriver.Config) *ltriver.Backend {
	t.Helper()
	cfg.Schema, cfg.Logger, cfg.FetchPollInterval = schema, quiet, 20*time.Millisecond
	b, err := ltriver.New(ctx, pool, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return b
}

// awaitStrikes waits until b's copy of the strikes holds n of them.
func awaitStrikes(t *testing.T, ctx context.Context, b *ltriver.Backend, n int) {
	t.Helper()
	for {
		changed := ltriver.StrikesChanged(b)
		if len(b.Strikes()) == n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("the backend has %d strikes, not %d: %v", len(b.Strikes()), n, ctx.Err())
		}
	}
}

// TestStrikeAcrossProcesses: a strike made through one Backend stops the
// enqueues and the queued runs of another on the same schema, as it would
// those of another process, and a Restore through the second lifts it for
// the first.
func TestStrikeAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	workers := newBackend(t, ctx, schema, ltriver.Config{Name: "workers", Workers: 2, Clock: clock})
	admin := newBackend(t, ctx, schema, ltriver.Config{Name: "admin"})

	queued, err := localtaskstest.Echo.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, workers, localtaskstest.EchoArgs{N: 5})
	require.NoError(t, err)
	st := localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "N", Op: localtasks.OpLess, Value: 10}
	require.NoError(t, admin.Strike(st))
	require.Equal(t, []localtasks.Strike{st}, admin.Strikes(), "in force where it was made when Strike returns")
	made := time.Now()
	awaitStrikes(t, ctx, workers, 1)
	t.Logf("the strike reached the other Backend %v after Strike returned", time.Since(made))
	require.Equal(t, []localtasks.Strike{st}, workers.Strikes(), "read back from the table as it was given")

	hd, err := localtaskstest.Echo.Enqueue(ctx, workers, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, hd.Disposition(), "an Enqueue in the other process is struck")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Equal(t, "struck: localtaskstest.echo where N < 10", res.CancelReason)
	require.Zero(t, res.Attempts)

	clock.Advance(time.Minute)
	_, err = queued.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled, "a run queued before the strike is struck when it would start")
	res, err = queued.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "struck before it started: localtaskstest.echo where N < 10", res.CancelReason)
	require.Zero(t, res.Attempts, "it never ran")
	require.Empty(t, res.WorkerIDs)
	require.True(t, res.StartedAt.IsZero())

	require.NoError(t, workers.Restore(localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "N", Op: localtasks.OpLess, Value: 10.0}))
	require.Empty(t, workers.Strikes())
	awaitStrikes(t, ctx, admin, 0)
	again, err := localtaskstest.Echo.Enqueue(ctx, admin, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	v, err := again.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v.N)
	require.ErrorIs(t, admin.Restore(st), localtasks.ErrInvalidTask, "restored already, from the other process")
}

// TestStrikeOnceAcrossProcesses: the same strike made through two
// Backends is one strike.
func TestStrikeOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	a := newBackend(t, ctx, schema, ltriver.Config{})
	b := newBackend(t, ctx, schema, ltriver.Config{})
	st := localtasks.Strike{Field: "N", Op: localtasks.OpEqual, Value: 3}
	require.NoError(t, a.Strike(st))
	require.NoError(t, b.Strike(localtasks.Strike{Field: "N", Op: localtasks.OpEqual, Value: int64(3)}), "the same strike, by its converted value")
	require.Equal(t, []localtasks.Strike{st}, b.Strikes())
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "localtasks_strike"}.Sanitize()).Scan(&n))
	require.Equal(t, 1, n)
}

// strikeValues has a field of each type a strike's value can have.
type strikeValues struct {
	I  int
	I8 int8
	U  uint16
	F  float32
	S  string
	B  bool
	T  time.Time
}

var strikeValuesTask = localtasks.Define("river_test.strike-values", func(ctx context.Context, a strikeValues) (int, error) { return 0, nil })

// TestStrikeValues: each kind of value is read back from the table of
// strikes as the type it was given as, and matches as given.
func TestStrikeValues(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	a := newBackend(t, ctx, schema, ltriver.Config{})
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	name := strikeValuesTask.Name()
	strikes := []localtasks.Strike{
		{Task: name, Field: "I", Op: localtasks.OpEqual, Value: -7},
		{Task: name, Field: "I8", Op: localtasks.OpBetween, Value: int8(-3), Upper: uint64(3)},
		{Task: name, Field: "U", Op: localtasks.OpGreater, Value: uint16(60000)},
		{Task: name, Field: "F", Op: localtasks.OpLess, Value: 0.5},
		{Task: name, Field: "S", Op: localtasks.OpEqual, Value: "acme, \"inc\"\n"},
		{Task: name, Field: "B", Op: localtasks.OpNotEqual, Value: false},
		{Task: name, Field: "T", Op: localtasks.OpGreaterEqual, Value: at},
		{Task: name, Field: "T", Op: localtasks.OpLess, Value: "2000-01-01T00:00:00Z"},
		{Task: name},
	}
	for _, st := range strikes {
		require.NoError(t, a.Strike(st), "%v", st)
	}
	b := newBackend(t, ctx, schema, ltriver.Config{}) // reads them all from the table
	require.Equal(t, strikes, b.Strikes())
	for _, st := range strikes {
		require.NoError(t, b.Restore(st), "%v", st)
	}
	require.Empty(t, b.Strikes())

	for _, tc := range []struct {
		st   localtasks.Strike
		hit  strikeValues
		miss strikeValues
	}{
		{strikes[0], strikeValues{I: -7}, strikeValues{I: 7}},
		{strikes[1], strikeValues{I8: 3}, strikeValues{I8: 4}},
		{strikes[2], strikeValues{U: 60001}, strikeValues{U: 60000}},
		{strikes[3], strikeValues{F: 0.25, B: true}, strikeValues{F: 0.75, B: true}},
		{strikes[6], strikeValues{T: at, F: 1}, strikeValues{T: at.Add(-time.Nanosecond), F: 1}},
	} {
		require.NoError(t, a.Strike(tc.st))
		awaitStrikes(t, ctx, b, 1)
		hit, err := b.Enqueue(ctx, strikeValuesTask.Definition(), tc.hit, localtasks.Options{})
		require.NoError(t, err)
		require.Equal(t, localtasks.Struck, hit.Disposition, "%v: %+v", tc.st, tc.hit)
		miss, err := b.Enqueue(ctx, strikeValuesTask.Definition(), tc.miss, localtasks.Options{})
		require.NoError(t, err)
		require.Equal(t, localtasks.Enqueued, miss.Disposition, "%v: %+v", tc.st, tc.miss)
		require.NoError(t, a.Restore(tc.st))
		awaitStrikes(t, ctx, b, 0)
	}
}

// TestStrikeInBatchesAndTx: EnqueueMany strikes the runs a strike matches
// and queues the others, in one transaction; EnqueueTx strikes in the
// caller's transaction; a struck run holds no key.
func TestStrikeInBatchesAndTx(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newBackend(t, ctx, newSchema(t), ltriver.Config{Workers: 2})
	sub := b.Subscribe(16)
	defer sub.Close()
	require.NoError(t, b.Strike(localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "Text", Op: localtasks.OpEqual, Value: "no"}))

	hs, err := localtaskstest.Echo.EnqueueMany(ctx, b, []localtaskstest.EchoArgs{{N: 1, Text: "no"}, {N: 2}, {N: 3, Text: "no"}})
	require.NoError(t, err)
	require.Equal(t, []localtasks.Disposition{localtasks.Struck, localtasks.Enqueued, localtasks.Struck},
		[]localtasks.Disposition{hs[0].Disposition(), hs[1].Disposition(), hs[2].Disposition()})
	v, err := hs[1].Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v.N)
	for _, i := range []int{0, 2} {
		_, err := hs[i].Wait(ctx)
		require.ErrorIs(t, err, localtasks.ErrCancelled)
	}
	var kinds []localtasks.EventKind
	for len(kinds) < 2 {
		ev := <-sub.C()
		if ev.Result.ID == hs[0].ID() {
			kinds = append(kinds, ev.Kind)
		}
	}
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued, localtasks.EventFinished}, kinds, "a struck run's events, as the pools publish them")

	// A struck run with a key neither takes it nor reports the run that
	// holds it.
	keyed := localtaskstest.Echo.Using(localtasks.WithKey("k"), localtasks.WithDelay(time.Hour))
	holder, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 4})
	require.NoError(t, err)
	struck, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 5, Text: "no"})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, struck.Disposition())
	require.NotEqual(t, holder.ID(), struck.ID())
	replaced, err := localtaskstest.Echo.Replace(ctx, b, "k", localtaskstest.EchoArgs{N: 6, Text: "no"})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, replaced.Disposition(), "a strike before a replace, as the pools decide")
	st, err := holder.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, st, "the run that holds the key is left be")
	require.NoError(t, holder.Cancel(ctx))

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	inTx, err := ltriver.EnqueueTx(ctx, b, tx, localtaskstest.Echo, localtaskstest.EchoArgs{Text: "no"})
	require.NoError(t, err)
	require.Equal(t, localtasks.Struck, inTx.Disposition())
	_, err = inTx.Status(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "not committed yet")
	require.NoError(t, tx.Commit(ctx))
	res, err := inTx.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Equal(t, `struck: localtaskstest.echo where Text == "no"`, res.CancelReason)
	c := b.Counters()
	require.Equal(t, uint64(5), c.Struck, "two of the batch, the keyed one, the replace and the one in the tx")
	require.Equal(t, uint64(7), c.Enqueued, "the batch of three, the key holder and the three struck after it: each struck run is made, as on the pools")
}

// TestStrikeTableMissing: a Backend on a schema without the table of
// strikes says to run Migrate; Migrate again makes it.
func TestStrikeTableMissing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	_, err := pool.Exec(ctx, "DROP TABLE "+pgx.Identifier{schema, "localtasks_strike"}.Sanitize())
	require.NoError(t, err)
	_, err = ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "run ltriver.Migrate")
	require.NoError(t, ltriver.Migrate(ctx, pool, schema))
	require.NoError(t, ltriver.Migrate(ctx, pool, schema), "safe to run again")
	b := newBackend(t, ctx, schema, ltriver.Config{})
	require.Empty(t, b.Strikes())
}

// TestStrikeClosed: a closed Backend makes no strike.
func TestStrikeClosed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))
	require.ErrorIs(t, b.Strike(localtasks.Strike{Task: localtaskstest.Echo.Name()}), localtasks.ErrClosed)
	require.ErrorIs(t, b.Strike(localtasks.Strike{}), localtasks.ErrInvalidTask, "checked first")
}

// TestStrikeBeforeRetry: a run that failed is struck before its retry,
// and keeps the attempt it ran.
func TestStrikeBeforeRetry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := newBackend(t, ctx, newSchema(t), ltriver.Config{Workers: 1, Clock: clock})
	failed, stop := b.Client().Subscribe(river.EventKindJobFailed)
	defer stop()
	hd, err := localtaskstest.Flaky.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 3, Delay: time.Minute})).
		Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "boom", FailAttempts: 1})
	require.NoError(t, err)
	select {
	case <-failed:
	case <-ctx.Done():
		t.Fatalf("the first attempt did not fail: %v", ctx.Err())
	}
	require.NoError(t, b.Strike(localtasks.Strike{Task: localtaskstest.Flaky.Name(), Field: "Message", Op: localtasks.OpEqual, Value: "boom"}))
	clock.Advance(time.Minute)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, `struck before its retry: localtaskstest.flaky where Message == "boom"`, res.CancelReason)
	require.Equal(t, 1, res.Attempts, "the attempt that ran, not the one struck")
	require.Len(t, res.WorkerIDs, 1)
	require.Len(t, res.Errors, 1)
	require.Equal(t, "boom", res.Errors[0].Message)
	require.Equal(t, uint64(1), b.Counters().Struck)
}

// TestStrikeUnreadable: a row of the table this version cannot read is
// left out, with a warning, rather than failing New.
func TestStrikeUnreadable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	_, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "localtasks_strike"}.Sanitize()+
		" (task, field, op, value_type, value, upper_type, upper) VALUES ($1, 'N', '==', 'complex128', '1i', '', '')", localtaskstest.Echo.Name())
	require.NoError(t, err)
	b := newBackend(t, ctx, schema, ltriver.Config{})
	require.Empty(t, b.Strikes())
	st := localtasks.Strike{Task: localtaskstest.Echo.Name(), Field: "N", Op: localtasks.OpEqual, Value: 1}
	require.NoError(t, b.Strike(st), "the others are made and read as before")
	require.Equal(t, []localtasks.Strike{st}, b.Strikes())
}
