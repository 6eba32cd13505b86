package localtasks

import (
	"fmt"
	"sync/atomic"
)

// What the external tests (package localtasks_test) need of the package's
// insides. They cannot be internal tests: localtaskstest, which they use,
// imports this package.

// DispatchedForTest returns a channel that receives the ID of each run b
// sends to a worker process, READY and not yet started, from now on: the
// state's testDispatched hook. The channel holds 64; a dispatch blocks
// while it is full.
func DispatchedForTest(b *ProcessPoolBackend) <-chan string {
	c := make(chan string, 64)
	b.s.mu.Lock()
	b.s.testDispatched = func(rec *record) { c <- rec.id }
	b.s.mu.Unlock()
	return c
}

// RoomWaitForTest returns a channel that receives a value each time an
// Enqueue on b is about to wait for room (Config.MaxQueued), from now on.
// The channel holds 16; a waiter blocks while it is full.
func RoomWaitForTest(b *ThreadPoolBackend) <-chan struct{} {
	c := make(chan struct{}, 16)
	b.s.mu.Lock()
	b.s.testRoomWait = func() { c <- struct{}{} }
	b.s.mu.Unlock()
	return c
}

// WaitingForTest returns a channel that receives the ID of each run a Wait
// on b starts waiting for, from now on: the state's testWaiting hook. The
// channel holds 16; a Wait blocks while it is full.
func WaitingForTest(b *ThreadPoolBackend) <-chan string {
	c := make(chan string, 16)
	b.s.mu.Lock()
	b.s.testWaiting = func(rec *record) { c <- rec.id }
	b.s.mu.Unlock()
	return c
}

// CountRecallsForTest makes b count the runs its workers give back
// unstarted, asked to by the parent for an idle worker (recall), from now
// on, and returns a func that reads the count.
func CountRecallsForTest(b *ProcessPoolBackend) func() int {
	var n atomic.Int64
	b.s.mu.Lock()
	b.s.proc.testRecalled = func(*record) { n.Add(1) }
	b.s.mu.Unlock()
	return func() int { return int(n.Load()) }
}

// CheckCountsForTest counts every run b's state holds, by status, in all,
// per queue and per chunk of the index, and returns an error if the counts the state
// keeps differ: the view that Snapshot relies on.
func CheckCountsForTest(b Backend) error {
	var s *state
	switch b := b.(type) {
	case *ThreadPoolBackend:
		s = b.s
	case *ProcessPoolBackend:
		s = b.s
	case *ImmediateBackend:
		s = b.s
	case *RecordingBackend:
		s = b.s
	default:
		return fmt.Errorf("%T is not a backend of this package", b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.takeInbox()
	s.results.mu.Lock()
	defer s.results.mu.Unlock()
	var want StatusCounts
	var chunks [indexShards][]chunkTally
	queues := make([][unfinishedStatuses]int, len(s.view.queues))
	for _, rec := range s.index.all() {
		switch st := rec.status; {
		case unfinished(st):
			queues[rec.queue][st-1]++
			shard, n := slotOf(rec.slot)
			c := int(n >> chunkBits)
			for len(chunks[shard]) <= c {
				chunks[shard] = append(chunks[shard], chunkTally{})
			}
			chunks[shard][c][st-1]++
			switch st {
			case StatusScheduled:
				want.Scheduled++
			case StatusReady:
				want.Ready++
			default:
				want.Running++
			}
		case st == StatusSuccessful:
			want.Successful++
		case st == StatusFailed:
			want.Failed++
		case st == StatusCancelled:
			want.Cancelled++
		}
	}
	if got := s.view.counts(); got != want {
		return fmt.Errorf("the counts kept are %+v; the runs held are %+v", got, want)
	}
	for i, q := range s.view.queues {
		if q != queues[i] {
			return fmt.Errorf("queue %q: counted %v (SCHEDULED, READY, RUNNING), holds %v", s.set.cfg.Queues[i], q, queues[i])
		}
	}
	for shard := range chunks {
		for c, tally := range s.view.chunks[shard] {
			var w chunkTally
			if c < len(chunks[shard]) {
				w = chunks[shard][c]
			}
			if tally != w {
				return fmt.Errorf("shard %d chunk %d: counted %v, holds %v", shard, c, tally, w)
			}
		}
		if len(chunks[shard]) > len(s.view.chunks[shard]) {
			return fmt.Errorf("shard %d: runs in chunk %d, beyond the %d counted", shard, len(chunks[shard])-1, len(s.view.chunks[shard]))
		}
	}
	return nil
}
