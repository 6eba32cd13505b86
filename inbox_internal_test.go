package localtasks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A run posted as the backend closes, after the close took in the inbox
// and every worker left, is cancelled by the enqueuer itself: it is never
// left READY with nobody to run or cancel it.
func TestPostAfterCloseTookTheInbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := NewThreadPool(ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	s := b.s
	s.testPosting = func() {
		s.testPosting = nil
		require.NoError(t, b.Close(ctx)) // the whole shutdown, workers gone
	}
	receipt, err := b.Enqueue(ctx, internalStored.Definition(), 1, internalStored.Options())
	require.NoError(t, err, "the request passed the checks before the close")
	res, err := b.GetResult(ctx, receipt.ID)
	require.NoError(t, err)
	require.Equal(t, StatusCancelled, res.Status)
	require.Equal(t, "the backend closed before the task started", res.CancelReason)
	require.Equal(t, uint64(1), b.Counters().Cancelled)
}
