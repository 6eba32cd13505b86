package localtasks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// RecordingBackend.Clear forgets the keys of the runs it forgets.
func TestRecordingClearFreesKeys(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	keyed := localtaskstest.Echo.Using(localtasks.WithKey("k"))
	first, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	dup, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.AlreadyEnqueued, dup.Disposition())
	b.Clear()
	again, err := keyed.Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.NoError(t, err)
	require.Equal(t, localtasks.Enqueued, again.Disposition())
	require.NotEqual(t, first.ID(), again.ID())
}
