//go:build unix

package localtasks_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

var printLogTask = localtasks.Define("runlog.print", func(ctx context.Context, fail bool) (int, error) {
	n := localtasks.Attempt(ctx)
	fmt.Printf("out %d\n", n)
	localtasks.Logger(ctx).Info("logged", "n", n, slog.Group("g", "k", "v"))
	fmt.Fprintf(os.Stderr, "err %d\n", n)
	if fail && n == 1 {
		return 0, errors.New("first attempt fails")
	}
	return n, nil
})

// On a process pool a run's logs hold what its attempts wrote through
// Logger(ctx) and what they printed, in order, each with its attempt.
func TestRunLogsProcessPool(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := printLogTask.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 2})).Enqueue(ctx, b, true)
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)

	type line struct {
		Attempt         int
		Stream, Message string
		Attrs           []localtasks.LogAttr
	}
	var got []line
	for _, r := range res.Logs {
		require.False(t, r.Time.IsZero())
		got = append(got, line{r.Attempt, r.Stream, r.Message, r.Attrs})
	}
	attrs := func(n string) []localtasks.LogAttr {
		return []localtasks.LogAttr{{Key: "n", Value: n}, {Key: "g.k", Value: "v"}}
	}
	// Printed lines come through pipes the worker reads apart from its
	// records: each stream keeps its order, and each attempt's lines come
	// before the next attempt's, but the streams interleave as they come.
	slices.SortStableFunc(got, func(a, b line) int { return cmp.Or(a.Attempt-b.Attempt, cmp.Compare(a.Stream, b.Stream)) })
	require.Equal(t, []line{
		{1, "log", "logged", attrs("1")}, {1, "stderr", "err 1", nil}, {1, "stdout", "out 1", nil},
		{2, "log", "logged", attrs("2")}, {2, "stderr", "err 2", nil}, {2, "stdout", "out 2", nil},
	}, got)
	for i := 1; i < len(res.Logs); i++ {
		require.LessOrEqual(t, res.Logs[i-1].Attempt, res.Logs[i].Attempt, "attempt 1's lines come first")
	}
}
