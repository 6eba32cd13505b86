package localtasks

import "sync/atomic"

// StatusCounts counts runs by status: those a backend holds, finished ones
// until the result store evicts them.
type StatusCounts struct {
	Scheduled, Ready, Running     int
	Successful, Failed, Cancelled int
}

// Of returns the count of runs with status st; 0 for an unknown status.
func (c StatusCounts) Of(st Status) int {
	switch st {
	case StatusScheduled:
		return c.Scheduled
	case StatusReady:
		return c.Ready
	case StatusRunning:
		return c.Running
	case StatusSuccessful:
		return c.Successful
	case StatusFailed:
		return c.Failed
	case StatusCancelled:
		return c.Cancelled
	}
	return 0
}

// Total returns the count of runs of every status.
func (c StatusCounts) Total() int {
	return c.Scheduled + c.Ready + c.Running + c.Successful + c.Failed + c.Cancelled
}

// view is what the state keeps up to date, transition by transition, so
// that a snapshot costs what it lists rather than what the store holds:
// the count of runs by status, in all, for each queue and for each chunk
// of the index (a listing skips the chunks without a run it wants), and
// the ring of the most recent finishes. Guarded by state.mu, but for held.
type view struct {
	// unfinished counts the SCHEDULED, READY and RUNNING runs (by
	// Status-1), queues the same on each queue (by record.queue), and
	// chunks the same in each chunk of each index shard.
	unfinished [unfinishedStatuses]int
	queues     [][unfinishedStatuses]int
	chunks     [indexShards][]chunkTally
	// held counts the finished runs in the result store (by
	// Status-StatusSuccessful): finalize adds, eviction subtracts, under
	// different locks.
	held [3]atomic.Int64
	// recent holds the last SnapshotFinishedMax runs to finish, finish
	// number i at recent[i%SnapshotFinishedMax]; finishes counts them all.
	recent   [SnapshotFinishedMax]*record
	finishes uint64
}

// unfinishedStatuses are SCHEDULED, READY and RUNNING, the Status values
// 1 to 3.
const unfinishedStatuses = 3

// chunkTally counts the unfinished runs of one chunk of the index, by
// Status-1.
type chunkTally [unfinishedStatuses]int32

// unfinished reports whether st is SCHEDULED, READY or RUNNING.
func unfinished(st Status) bool { return st >= StatusScheduled && st <= StatusRunning }

// tally returns the counts of rec's chunk, growing the view's chunks to it.
// Must hold s.mu.
func (v *view) tally(rec *record) *chunkTally {
	shard, n := slotOf(rec.slot)
	c := int(n >> chunkBits)
	cs := v.chunks[shard]
	if c >= len(cs) {
		cs = append(cs, make([]chunkTally, c+1-len(cs))...)
		v.chunks[shard] = cs
	}
	return &cs[c]
}

// setStatus gives rec the status to, keeping the counts: every status
// transition goes through it (see lifecycle.go). A final status is counted
// as held by finalize, which knows whether the run stays in the store.
// Must hold s.mu.
func (s *state) setStatus(rec *record, to Status) {
	from := rec.status
	rec.status = to
	rec.changed() // its watchers, if any: see watch.go
	s.view.count(rec, from, to)
	if s.jr != nil {
		s.mark(rec)
	}
	if s.roomWaiters > 0 && queued(from) && !queued(to) {
		s.madeRoom()
	}
}

// queued reports whether st is READY or SCHEDULED: what Config.MaxQueued
// bounds.
func queued(st Status) bool { return st == StatusReady || st == StatusScheduled }

// queuedRuns counts the READY and SCHEDULED runs. Must hold s.mu.
func (s *state) queuedRuns() int {
	return s.view.unfinished[StatusReady-1] + s.view.unfinished[StatusScheduled-1]
}

// madeRoom wakes the enqueues waiting for room. Must hold s.mu.
func (s *state) madeRoom() {
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// count moves rec, in the counts, from status from to status to; 0 is no
// status, that of a new run. Must hold s.mu.
func (v *view) count(rec *record, from, to Status) {
	if from == to || (!unfinished(from) && !unfinished(to)) {
		return
	}
	t, q := v.tally(rec), &v.queues[rec.queue]
	if unfinished(from) {
		v.unfinished[from-1]--
		q[from-1]--
		t[from-1]--
	}
	if unfinished(to) {
		v.unfinished[to-1]++
		q[to-1]++
		t[to-1]++
	}
}

// finished records that rec reached its final status, held in the result
// store: finalize calls dropped after it if the store evicted rec
// meanwhile. Must hold s.mu.
func (v *view) finished(rec *record) {
	v.held[rec.status-StatusSuccessful].Add(1)
	v.recent[v.finishes%SnapshotFinishedMax] = rec
	v.finishes++
}

// dropped records that the result store dropped rec, published finished.
// Called under results.mu: rec's status is final, and written before it
// was published (record.stored).
func (v *view) dropped(rec *record) {
	v.held[rec.status-StatusSuccessful].Add(-1)
}

// counts returns the counts. Must hold s.mu.
func (v *view) counts() StatusCounts {
	return StatusCounts{
		Scheduled: v.unfinished[StatusScheduled-1], Ready: v.unfinished[StatusReady-1], Running: v.unfinished[StatusRunning-1],
		Successful: int(v.held[0].Load()), Failed: int(v.held[1].Load()), Cancelled: int(v.held[2].Load()),
	}
}
