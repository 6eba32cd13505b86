package river_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// TestEnqueueManyReplace checks that a batch of one key with Replace
// replaces, one after the other, as many Enqueues would: the run that
// held the key, then each of the batch's own but the last.
func TestEnqueueManyReplace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t), Logger: quiet})
	require.NoError(t, err)
	defer b.Close(ctx)
	echo := localtaskstest.Echo.Using(localtasks.WithKey("k"), localtasks.WithDelay(time.Hour))
	held, err := echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 0})
	require.NoError(t, err)

	opts := echo.Options()
	opts.Replace = true
	args := []any{localtaskstest.EchoArgs{N: 1}, localtaskstest.EchoArgs{N: 2}, localtaskstest.EchoArgs{N: 3}}
	rs, err := b.EnqueueMany(ctx, localtaskstest.Echo.Definition(), args, opts)
	require.NoError(t, err)
	require.Len(t, rs, 3)
	for i, r := range rs {
		require.Equal(t, localtasks.Replaced, r.Disposition, "receipt %d", i)
	}
	for i, id := range []string{held.ID(), rs[0].ID, rs[1].ID} {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status, "run %d", i)
		require.Contains(t, res.CancelReason, "replaced by run")
	}
	last, err := b.GetResult(ctx, rs[2].ID)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, last.Status)
	require.Equal(t, localtaskstest.EchoArgs{N: 3}, last.Args)

	// Without Replace, the batch gets the holder's run.
	kept, err := echo.EnqueueMany(ctx, b, []localtaskstest.EchoArgs{{N: 4}, {N: 5}})
	require.NoError(t, err)
	for _, h := range kept {
		require.Equal(t, localtasks.AlreadyEnqueued, h.Disposition())
		require.Equal(t, rs[2].ID, h.ID())
	}
}

// TestFinishesAnnouncedInBatches checks that the runs a backend's workers
// finish are announced to other processes, all of them, in fewer
// notifications than runs; and that a backend without workers, which
// hears only those, sees every run finish.
func TestFinishesAnnouncedInBatches(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := newSchema(t)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer func() {
		_, err := conn.Exec(context.Background(), "UNLISTEN *")
		require.NoError(t, err)
		conn.Release()
	}()
	_, err = conn.Exec(ctx, "LISTEN localtasks_finished")
	require.NoError(t, err)

	worker, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 4, Logger: quiet,
		FetchPollInterval: 20 * time.Millisecond, FetchCooldown: time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, worker.Close(context.Background())) }()
	reader, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Logger: quiet})
	require.NoError(t, err)
	defer func() { require.NoError(t, reader.Close(context.Background())) }()

	const n = 100
	args := make([]localtaskstest.EchoArgs, n)
	for i := range args {
		args[i] = localtaskstest.EchoArgs{N: i}
	}
	hs, err := localtaskstest.Echo.EnqueueMany(ctx, worker, args)
	require.NoError(t, err)
	want := map[int64]bool{}
	for _, h := range hs {
		id, err := strconv.ParseInt(h.ID(), 10, 64)
		require.NoError(t, err)
		want[id] = true
	}

	notes := 0
	for len(want) > 0 {
		note, err := conn.Conn().WaitForNotification(ctx)
		require.NoError(t, err, "%d runs never announced", len(want))
		rest, ok := strings.CutPrefix(note.Payload, schema+":")
		if !ok {
			continue // another test's
		}
		notes++
		parts := strings.Split(rest, ":")
		require.Len(t, parts, 2, "schema:nonce:ids, not %q", note.Payload)
		for s := range strings.SplitSeq(parts[1], ",") {
			id, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err, "payload %q", note.Payload)
			delete(want, id)
		}
	}
	require.Less(t, notes, n, "one notification a batch of runs, not a run")
	t.Logf("%d runs announced in %d notifications", n, notes)

	for i, h := range hs {
		res, err := reader.Wait(ctx, h.ID())
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusSuccessful, res.Status)
		require.Equal(t, args[i], res.Value)
	}
}
