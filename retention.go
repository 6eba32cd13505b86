package localtasks

// discard drops rec, a run of a task that keeps no result
// (Options.DiscardResult), as it finishes: from the counts of held results,
// the index and the journal. It was never in the result store, so it
// evicts no other run's result; whoever waits on it holds the record, and
// reads its result from there. A run Close ends CANCELLED stays in the
// journal as the journal keeps it (keepAsIs, kept), to resume when a
// backend opens the journal again. Must hold s.mu.
func (s *state) discard(rec *record, st Status) {
	s.view.dropped(rec)
	if s.jr != nil && rec.jstatus == 0 && !(s.closing && st == StatusCancelled) {
		s.jr.forget(rec)
	}
	s.index.del(rec)
}
