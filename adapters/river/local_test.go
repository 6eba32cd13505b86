package river

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// A Cancel that comes before the run starts here, as when River has fetched
// the job and not yet started it, cancels the run as it starts; one that
// comes while it runs cancels it at once; notes of runs that never start
// here expire.
func TestLocalRunsCancel(t *testing.T) {
	l := newLocalRuns()
	now := time.Now()

	l.cancel(1, now) // not started yet: noted
	ctx, cancel := context.WithCancelCause(context.Background())
	end := l.start(1, cancel)
	require.ErrorIs(t, context.Cause(ctx), localtasks.ErrCancelled, "cancelled as it starts")
	end()

	ctx, cancel = context.WithCancelCause(context.Background())
	end = l.start(2, cancel)
	require.NoError(t, ctx.Err())
	l.cancel(2, now)
	require.ErrorIs(t, context.Cause(ctx), localtasks.ErrCancelled, "cancelled while it runs")
	end()
	require.Empty(t, l.running)
	require.Empty(t, l.noted, "a cancel of a running run leaves no note")

	l.cancel(3, now)
	l.cancel(4, now.Add(notedFor+time.Second))
	require.NotContains(t, l.noted, int64(3), "an old note expires")
	require.Contains(t, l.noted, int64(4))
}
