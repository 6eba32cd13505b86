package localtasks

import (
	"context"
	"fmt"
)

// BatchEnqueuer is a Backend that enqueues many runs of one task in one
// call, all or none, as River's InsertMany does: Task.EnqueueMany uses it
// when the backend has it. Every backend of this package does.
type BatchEnqueuer interface {
	// EnqueueMany validates a run of task for each of args, all with opts,
	// and enqueues them together: if any is refused, none is queued, and
	// the error names the index of the first refused. It returns one
	// receipt for each argument, in their order; each says what became of
	// its run, as Enqueue's does (a key, a strike or a limit may stop a
	// run short without refusing the batch).
	EnqueueMany(ctx context.Context, task Definition, args []any, opts Options) ([]Receipt, error)
}

// EnqueueMany enqueues a run of task for each of args; see BatchEnqueuer.
// The runs are checked first, and then queued in one trip to the state's
// lock, which costs less than as many calls to Enqueue.
func (h *holder) EnqueueMany(ctx context.Context, task Definition, args []any, opts Options) ([]Receipt, error) {
	if h.closed.Load() {
		return nil, h.s.closedError(task)
	}
	if h.s.set.cfg.Propagator != nil && len(args) > 0 {
		if tctx, end := h.s.traceEnqueue(ctx, task, &opts, len(args)); end != nil {
			rs, err := h.s.enqueueMany(tctx, task, args, opts)
			if err != nil {
				end(nil, err)
			} else {
				end(receiptIDs(rs), nil)
			}
			return rs, err
		}
	}
	return h.s.enqueueMany(ctx, task, args, opts)
}

// enqueueMany is enqueue for many arguments at once: nothing is queued
// unless it returns a nil error.
func (s *state) enqueueMany(ctx context.Context, def Definition, args []any, opts Options) ([]Receipt, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var (
		lim      *plan
		payloads [][]byte
	)
	for i, a := range args {
		o := opts
		l, payload, err := s.check(ctx, def, a, &o)
		if err != nil {
			return nil, fmt.Errorf("localtasks: enqueue many: argument %d of %d: %w", i, len(args), err)
		}
		if payload != nil {
			if payloads == nil {
				payloads = make([][]byte, len(args))
			}
			payloads[i] = payload
		}
		if i == len(args)-1 {
			lim, opts = l, o // o has its defaults: the same for every argument
		}
	}
	now := s.clock.Now()
	runAfter, deadline, err := s.startTimes(def, &opts, now)
	if err != nil {
		return nil, err
	}
	carrier := s.inject(ctx) // once for all: the runs share it, never changed
	recs := make([]*record, len(args))
	for i, a := range args {
		var payload []byte
		if payloads != nil {
			payload = payloads[i]
		}
		rec := s.newRecord(def, a, payload, &opts, now)
		if !deadline.IsZero() {
			rec.extra().deadline = s.offset(deadline)
		}
		if carrier != nil {
			rec.extra().carrier = carrier
		}
		recs[i] = rec
	}
	if s.plain(lim, &opts, runAfter, now) && s.inboxLen.Load()+int32(len(recs)) <= inboxMax {
		s.postMany(recs)
		receipts := make([]Receipt, len(recs))
		for i, rec := range recs {
			receipts[i] = Receipt{ID: rec.id, Disposition: Enqueued}
		}
		return receipts, nil
	}
	for _, rec := range recs {
		s.index.put(rec) // under no lock, as in enqueue
	}
	unindex := func(keep []Receipt) {
		for i, rec := range recs {
			if keep == nil || keep[i].ID != rec.id {
				s.index.del(rec)
			}
		}
	}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		unindex(nil)
		return nil, s.closedError(def)
	}
	s.takeInbox()
	if s.set.cfg.MaxQueued > 0 {
		n := 0
		for _, rec := range recs {
			if s.needsRoom(rec, &opts) {
				n++
			}
		}
		if err := s.awaitRoom(ctx, def, opts.WaitForRoom, n); err != nil {
			s.mu.Unlock()
			unindex(nil)
			return nil, err
		}
	}
	receipts := make([]Receipt, len(recs))
	stopped := false // a run stopped short, whose record the index must drop
	for i, rec := range recs {
		receipts[i] = Receipt{ID: rec.id, Disposition: Enqueued}
		at := runAfter
		if rec.x != nil || lim != nil || len(s.strikes) > 0 {
			r, t, done := s.enqueueChecks(rec, &opts, lim, now, runAfter)
			receipts[i] = r
			if done {
				stopped = stopped || r.ID != rec.id
				continue
			}
			at = t
		}
		s.counters.Enqueued++
		s.place(rec, at, now)
	}
	cw, durable := s.enqueueCommit()
	s.mu.Unlock()
	if stopped {
		unindex(receipts)
	}
	if cw != nil {
		if err := s.jr.await(cw); err != nil && durable {
			return nil, s.unjournaledMany(def, recs, err)
		}
	}
	if s.mode == modeInline {
		for i, rec := range recs {
			if receipts[i].ID == rec.id {
				s.runInline(rec)
			}
		}
	}
	return receipts, nil
}

// postMany is post for a batch: the runs go on the inbox in one
// compare-and-swap, oldest deepest, so that takeInbox queues them in their
// order.
func (s *state) postMany(recs []*record) {
	subscribed := s.events.Subscribed()
	for i, rec := range recs {
		rec.status = StatusReady
		if subscribed {
			rec.announced = true
			s.events.Publish(Event{Kind: EventEnqueued, Result: s.snapshot(rec)})
		}
		s.index.put(rec)
		if i > 0 {
			rec.inbox = recs[i-1]
		}
	}
	s.inboxLen.Add(int32(len(recs)))
	first, last := recs[0], recs[len(recs)-1]
	for {
		head := s.inbox.Load()
		first.inbox = head
		if s.inbox.CompareAndSwap(head, last) {
			break
		}
	}
	if s.idleWorkers.Load() > 0 || s.closingNow.Load() { // see post
		s.mu.Lock()
		s.takeInbox()
		s.mu.Unlock()
	}
}

// unjournaledMany is unjournaled for a batch: the runs still queued are
// cancelled, and the error says how many had started.
func (s *state) unjournaledMany(def Definition, recs []*record, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := 0
	now := s.clock.Now()
	for _, rec := range recs {
		switch {
		case queued(rec.status):
			s.cancelQueued(rec, "the journal could not write it", now)
		case rec.attempts > 0:
			started++
		}
	}
	if started == 0 {
		return fmt.Errorf("localtasks: enqueue many %q: nothing was queued: %w", def.Name(), err)
	}
	return fmt.Errorf("localtasks: enqueue many %q: %d of its %d runs started before the journal failed to write them: they run, "+
		"but a restart will not know them; the others were cancelled: %w", def.Name(), started, len(recs), err)
}
