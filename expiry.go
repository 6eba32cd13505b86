package localtasks

import "time"

// expiry drops finished results Config.ResultTTL after they finished: a
// queue of the runs in the order they finished, and one timer for the
// first of them. It keeps each run's ID and slot, not the run, so that a run
// the result store evicted first is not held in memory until its time.
// Guarded by state.mu.
type expiry struct {
	q     []expiring // from head on
	head  int
	timer Timer
}

type expiring struct {
	id   string
	slot uint32
	at   time.Time // when it expires
}

// expire queues rec, which finished at finished, to leave the result
// store ResultTTL later; now is the time now. Runs are queued in the order
// they finished. Must hold s.mu.
func (s *state) expire(rec *record, finished, now time.Time) {
	e := &s.expiry
	e.q = append(e.q, expiring{id: rec.id, slot: rec.slot, at: finished.Add(s.set.cfg.ResultTTL)})
	if e.timer == nil {
		s.armExpiry(now)
	}
}

// armExpiry sets the timer for the first run to expire. Must hold s.mu.
func (s *state) armExpiry(now time.Time) {
	e := &s.expiry
	if e.head == len(e.q) || s.closing {
		return
	}
	e.timer = s.clock.AfterFunc(e.q[e.head].at.Sub(now), s.dropExpired)
}

// dropExpired drops the results whose time has come, and arms the timer for
// the next.
func (s *state) dropExpired() {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &s.expiry
	e.timer = nil
	now := s.clock.Now()
	for e.head < len(e.q) && !e.q[e.head].at.After(now) {
		x := e.q[e.head]
		e.q[e.head] = expiring{}
		e.head++
		if rec := s.index.at(x.slot); rec != nil && rec.id == x.id && rec.status.Finished() {
			s.results.remove(rec) // its eviction drops it from the index and the journal
		}
	}
	if e.head > len(e.q)/2 { // reuse the space of the half dropped
		e.q = append(e.q[:0], e.q[e.head:]...)
		e.head = 0
	}
	s.armExpiry(now)
}

// stopExpiry stops the timer, as the state shuts down. Must hold s.mu.
func (s *state) stopExpiry() {
	if t := s.expiry.timer; t != nil {
		t.Stop()
		s.expiry.timer = nil
	}
}
