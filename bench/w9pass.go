package main

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks"
)

// w9PageLimit is the runs a page of W9's snapshots lists.
const w9PageLimit = 1000

// w9Pass pages through the whole backlog once, w9PageLimit runs a page, and
// returns how many runs it listed, or -1 if stop closed first.
func w9Pass(b *localtasks.ThreadPoolBackend, stop <-chan struct{}, pages, pageNanos *atomic.Int64) (int, error) {
	opts := localtasks.SnapshotOptions{Limit: w9PageLimit}
	n := 0
	for {
		select {
		case <-stop:
			return -1, nil
		default:
		}
		t0 := time.Now()
		snap, err := b.Snapshot(context.Background(), opts)
		if err != nil {
			return 0, err
		}
		pages.Add(1)
		pageNanos.Add(int64(time.Since(t0)))
		n += len(snap.Queued) + len(snap.Running) + len(snap.Scheduled) + len(snap.Finished)
		if opts.Cursor = snap.NextCursor; opts.Cursor == "" {
			return n, nil
		}
	}
}

// w9Spin is W9's control: it spins on the CPU for about a page's time at a
// go, yielding between, and never touches the pool.
func w9Spin(_ *localtasks.ThreadPoolBackend, stop <-chan struct{}, _, _ *atomic.Int64) (int, error) {
	x := 0
	for {
		select {
		case <-stop:
			return -1, nil
		default:
		}
		for i := range 20_000 {
			x += i * i
		}
		if x == 42 {
			return x, nil // not reached: keeps the loop from being optimised away
		}
		runtime.Gosched()
	}
}
