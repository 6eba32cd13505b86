package localtasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A finished result is dropped ResultTTL after its run finished, from the
// journal too, and one whose time passed while no program ran is not
// taken back.
func TestResultTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	open := func(clock *localtaskstest.FakeClock) *localtasks.ThreadPoolBackend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1, Config: localtasks.Config{
			Name: t.Name(), Journal: j, ResultTTL: time.Minute, Test: localtasks.TestConfig{Clock: clock}}})
		require.NoError(t, err)
		return b
	}
	b := open(clock)
	first, err := journaled.Enqueue(ctx, b, jArgs{Name: "first"})
	require.NoError(t, err)
	_, err = first.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1)) // the expiry's timer
	clock.Advance(30 * time.Second)
	second, err := journaled.Enqueue(ctx, b, jArgs{Name: "second"})
	require.NoError(t, err)
	_, err = second.Wait(ctx)
	require.NoError(t, err)

	clock.Advance(30 * time.Second) // first's minute is over, second's is not
	_, err = b.GetResult(ctx, first.ID())
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	res, err := b.GetResult(ctx, second.ID())
	require.NoError(t, err)
	require.Equal(t, "done second", res.Value)
	require.NoError(t, b.Close(ctx))
	_, ok := j.Run(first.ID())
	require.False(t, ok, "dropped from the journal too")
	_, ok = j.Run(second.ID())
	require.True(t, ok)

	// The program starts again after second's minute ended.
	b2 := open(localtaskstest.NewFakeClock(localtaskstest.Epoch.Add(2 * time.Minute)))
	_, err = b2.GetResult(ctx, second.ID())
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
	require.NoError(t, b2.Close(ctx))
	require.Empty(t, j.Runs())

	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{ResultTTL: -time.Second}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
}
