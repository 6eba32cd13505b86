package localtasks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Pages of 100 go through every one of the SnapshotFinishedMax most recent
// finishes, newest first, each once: the dashboard's "Older" pages.
func TestSnapshotPagesThroughFinishedRuns(t *testing.T) {
	t.Parallel()
	b, _ := backlog(t, 12_000) // 1,200 CANCELLED, more than the ring holds
	ctx := testCtx(t)
	opts := localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusCancelled}, Limit: 100}
	seen := map[string]bool{}
	var last localtasks.TaskResult
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, localtasks.SnapshotFinishedMax/100+1, "the listing ends")
		snap, err := b.Snapshot(ctx, opts)
		require.NoError(t, err)
		for _, res := range snap.Finished {
			require.False(t, seen[res.ID], "run %s listed twice", res.ID)
			seen[res.ID] = true
			if last.ID != "" {
				require.False(t, res.FinishedAt.After(last.FinishedAt), "newest first")
			}
			last = res
		}
		if snap.NextCursor == "" {
			break
		}
		opts.Cursor = snap.NextCursor
	}
	require.Len(t, seen, localtasks.SnapshotFinishedMax)
}
