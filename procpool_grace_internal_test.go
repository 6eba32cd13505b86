//go:build unix

package localtasks

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The default grace scales with the run's timeout, between a floor and a
// cap; a CancelGrace that is set is every run's.
func TestGraceFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		set, timeout, want time.Duration
	}{
		{0, 0, 5 * time.Second},
		{0, 200 * time.Millisecond, 100 * time.Millisecond},
		{0, 400 * time.Millisecond, 100 * time.Millisecond},
		{0, time.Second, 250 * time.Millisecond},
		{0, 8 * time.Second, 2 * time.Second},
		{0, 20 * time.Second, 5 * time.Second},
		{0, time.Hour, 5 * time.Second},
		{3 * time.Second, 200 * time.Millisecond, 3 * time.Second},
		{3 * time.Second, 0, 3 * time.Second},
	} {
		p := &procPool{cfg: ProcessPoolConfig{CancelGrace: c.set}}
		require.Equal(t, c.want, p.graceFor(c.timeout), "CancelGrace %v, timeout %v", c.set, c.timeout)
	}
}

// A slot whose worker is being replaced stays in Snapshot().Workers, as
// starting, with no PID; once its new worker is ready, that worker is
// listed.
func TestSnapshotListsStartingSlots(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewProcessPool(ProcessPoolConfig{MaxWorkers: 1, MaxTasksPerWorker: 2, Config: Config{Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()
	entered, release := make(chan int, 1), make(chan struct{})
	b.s.mu.Lock()
	b.s.proc.testReplacing = func(slot int) {
		entered <- slot
		<-release
	}
	b.s.mu.Unlock()

	snap, err := b.Snapshot(ctx, SnapshotOptions{})
	require.NoError(t, err)
	require.Len(t, snap.Workers, 1)
	first := snap.Workers[0]
	require.False(t, first.Starting)
	require.NotZero(t, first.PID)

	for range 2 { // its worker retires after them
		h, err := internalPID.Enqueue(ctx, b, struct{}{})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
	}
	select {
	case slot := <-entered:
		require.Equal(t, 0, slot)
	case <-ctx.Done():
		t.Fatal("the slot did not start a replacement")
	}
	snap, err = b.Snapshot(ctx, SnapshotOptions{})
	require.NoError(t, err)
	require.Equal(t, []WorkerInfo{{ID: "procpool:private/0", Starting: true}}, snap.Workers, "the slot stays listed while its worker is replaced")

	close(release)
	h, err := internalPID.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	pid, err := h.Wait(ctx) // on the new worker: it is ready
	require.NoError(t, err)
	require.NotEqual(t, first.PID, pid)
	snap, err = b.Snapshot(ctx, SnapshotOptions{})
	require.NoError(t, err)
	require.Len(t, snap.Workers, 1)
	require.Equal(t, pid, snap.Workers[0].PID)
	require.False(t, snap.Workers[0].Starting)
}
