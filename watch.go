package localtasks

import (
	"context"
	"fmt"
	"iter"
)

// Watcher is a Backend that can follow one run: an optional interface,
// as Subscriber is. Every backend of this package implements it; Watch
// uses it, and falls back to GetResult and Wait on a backend without it.
type Watcher interface {
	// Watch returns an iterator over the states of the run with that
	// ID; see the package function Watch for what it yields.
	Watch(ctx context.Context, id string) iter.Seq2[TaskResult, error]
}

// Watch follows the run with that ID on b: it yields the run's snapshot
// now, then a new one each time its status, attempt or progress changes,
// until it has yielded the final status, or ctx ends:
//
//	for res, err := range localtasks.Watch(ctx, b, id) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(res.Status, res.Progress.Done, res.Progress.Total)
//	}
//
// A run that has finished yields its final snapshot at once and the
// iteration ends. An unknown ID yields the backend's error (one matching
// ErrResultNotFound), and ctx ending yields an error matching ctx.Err();
// either is the last value. Each range over the iterator is a watch of
// its own, which ends when the loop does.
//
// A slow reader is not queued up for: a watch holds the latest state of
// the run, not a history. Between two reads the run may change several
// times, and the next value is how it is then: a reader that lingers over
// a value may see READY followed by SUCCESSFUL, never RUNNING, or progress
// 2 then 9 of 10. The final status is never skipped, the values come in
// the order the run went, and the backend never waits for a watcher nor
// keeps more for it than one pending wake-up. Use Subscriber for every
// event.
//
// On the backends of this package a watch is a channel of one on its run,
// which each status change and progress report wakes with a send that
// never blocks; the watch takes the snapshot, as GetResult does, in its
// reader's goroutine when it gets to it. It starts no goroutine and polls
// nothing, and a run that no one watches pays a nil check a change.
// ImmediateBackend has finished a run by the time its ID is known, so a
// watch there yields the final state at once; RecordingBackend runs a run
// only when a test asks (Run, RunAll), so a watch there yields READY (or
// SCHEDULED), then follows the run if the test runs it, and otherwise ends
// when ctx does or the run is cancelled. On a backend that is not a Watcher, Watch
// yields the current snapshot, then the final one from b.Wait.
func Watch(ctx context.Context, b Backend, id string) iter.Seq2[TaskResult, error] {
	if w, ok := b.(Watcher); ok {
		return w.Watch(ctx, id)
	}
	return func(yield func(TaskResult, error) bool) {
		res, err := b.GetResult(ctx, id)
		if err != nil {
			yield(TaskResult{}, err)
			return
		}
		if !yield(res, nil) || res.Status.Finished() {
			return
		}
		if res, err = b.Wait(ctx, id); err != nil {
			yield(TaskResult{}, err)
			return
		}
		yield(res, nil)
	}
}

// Watch follows the run: see the package function Watch.
//
//	for res, err := range h.Watch(ctx) { ... }
func (h Handle[R]) Watch(ctx context.Context) iter.Seq2[TaskResult, error] {
	if err := h.check(); err != nil {
		return func(yield func(TaskResult, error) bool) { yield(TaskResult{}, err) }
	}
	return Watch(ctx, h.b, h.id)
}

// Watch follows the run with that ID; see the package function Watch.
func (h *holder) Watch(ctx context.Context, id string) iter.Seq2[TaskResult, error] {
	return func(yield func(TaskResult, error) bool) { h.s.watch(ctx, id, yield) }
}

// watch yields the states of the run with that ID until it has finished,
// ctx ends or yield says stop. It runs in the reader's goroutine: the run
// wakes it, through a channel of one, each time it changes (see
// record.changed), and it takes a snapshot when it gets to it, so that a
// burst of changes costs a slow reader one snapshot, and the pool one
// send that never blocks.
func (s *state) watch(ctx context.Context, id string, yield func(TaskResult, error) bool) {
	rec, err := s.lookup(id)
	if err != nil {
		yield(TaskResult{}, err)
		return
	}
	// Register first, then read: a change in between wakes the watch,
	// which reads again.
	wake := make(chan struct{}, 1)
	s.mu.Lock()
	x := rec.extra()
	x.watchers = append(x.watchers, wake)
	s.mu.Unlock()
	defer s.unwatch(rec, wake)

	var last TaskResult
	for first := true; ; first = false {
		res := s.read(rec)
		if first || changed(last, res) {
			if !yield(res, nil) || res.Status.Finished() {
				return
			}
			last = res
		}
		select {
		case <-wake:
		case <-ctx.Done():
			yield(TaskResult{}, fmt.Errorf("localtasks: watching task %s: %w", id, ctx.Err()))
			return
		}
	}
}

// unwatch drops the watcher wake of rec.
func (s *state) unwatch(rec *record, wake chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := rec.x
	for i, w := range x.watchers {
		if w == wake {
			last := len(x.watchers) - 1
			x.watchers[i], x.watchers[last] = x.watchers[last], nil
			x.watchers = x.watchers[:last]
			break
		}
	}
	if len(x.watchers) == 0 {
		x.watchers = nil // what record.changed checks
	}
}

// changed reports whether a watcher that saw a should see b: its status,
// attempt or progress moved.
func changed(a, b TaskResult) bool {
	return a.Status != b.Status || a.Attempts != b.Attempts ||
		a.Progress.Done != b.Progress.Done || a.Progress.Total != b.Progress.Total ||
		a.Progress.Message != b.Progress.Message || !a.Progress.At.Equal(b.Progress.At)
}

// changed wakes the watchers of rec, if any: setStatus and setProgress
// call it. A run that no one watches pays for a nil check. Must hold
// state.mu.
func (rec *record) changed() {
	if x := rec.x; x != nil && x.watchers != nil {
		x.wakeWatchers()
	}
}

// wakeWatchers wakes each watcher that is not awake already: one that is
// will read the run's latest state anyway. Must hold state.mu.
func (x *recordExtra) wakeWatchers() {
	for _, w := range x.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}
