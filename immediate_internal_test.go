package localtasks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

var inlineLine = Define("localtasks.test.inline-line", func(ctx context.Context, n int) (int, error) { return n, nil })

// An ImmediateBackend runs each run inside Enqueue: none may stay on the
// ready line, which no worker pops, or a long-lived backend would hold
// every run it ever ran.
func TestImmediateKeepsNoRunOnTheLine(t *testing.T) {
	b, err := NewImmediate(Config{MaxResults: 10})
	require.NoError(t, err)
	defer b.Close(context.Background())
	for i := range 100 {
		h, err := inlineLine.Enqueue(context.Background(), b, i)
		require.NoError(t, err)
		st, err := h.Status(context.Background())
		require.NoError(t, err)
		require.Equal(t, StatusSuccessful, st)
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	require.Zero(t, b.s.ready.Len(), "runs left on the ready line")
}
