//go:build unix

package localtasks_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// A worker is in a process group of its own: a Ctrl-C in a terminal, which
// signals the foreground process group, reaches the parent, not its
// workers, so the parent can drain their tasks.
func TestProcessPoolWorkersInOwnProcessGroup(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := localtaskstest.Echo.Enqueue(ctx, b, localtaskstest.EchoArgs{N: 1})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	snap := snapshotOf(t, b)
	require.Len(t, snap.Workers, 1)
	pid := snap.Workers[0].PID
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	require.Equal(t, pid, pgid, "the worker leads a process group of its own")
	require.NotEqual(t, syscall.Getpgrp(), pgid)
}
