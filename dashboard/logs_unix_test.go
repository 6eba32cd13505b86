//go:build unix

package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// printingTask logs through Logger(ctx) and prints a line to stdout and
// one to stderr.
var printingTask = localtasks.Define("dashboard_test.printing", func(ctx context.Context, shop string) (int, error) {
	localtasks.Logger(ctx).Info("printing", "shop", shop)
	fmt.Printf("printed <b>%s</b>\n", shop)
	fmt.Fprintf(os.Stderr, "warned %s\n", shop)
	return 0, nil
})

// A process pool's run keeps what it printed beside its Logger(ctx)
// records, each with its stream.
func TestResultLogsOfAProcessPool(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h := newHandler(t, false, pool)
	hd, err := printingTask.Enqueue(ctx, pool, "acme")
	require.NoError(t, err)
	wait(t, pool, hd.ID())

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	type line struct{ Stream, Message string }
	var got []line
	for _, r := range task.Logs {
		got = append(got, line{r.Stream, r.Message})
	}
	require.ElementsMatch(t, []line{{"log", "printing"}, {"stdout", "printed <b>acme</b>"}, {"stderr", "warned acme"}}, got)
	require.Equal(t, 3, task.LogCount)
}
