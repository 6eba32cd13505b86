package main

import (
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks"
)

// w9Pass takes one snapshot of the whole backlog.
func w9Pass(b *localtasks.ThreadPoolBackend, stop <-chan struct{}, pages, pageNanos *atomic.Int64) (int, error) {
	t0 := time.Now()
	snap := b.Snapshot()
	pages.Add(1)
	pageNanos.Add(int64(time.Since(t0)))
	return len(snap.Queued), nil
}
