package localtasks

import (
	"context"
	"errors"
	"fmt"
)

// RecordingBackend accepts tasks and never runs them, like Django's
// DummyBackend: for tests that check what a program enqueues. Runs stay
// READY (or SCHEDULED, for a future run-after time) until cancelled;
// Recorded lists them. The tasks its Config.Automatic names are enqueued
// when it is built, as on a pool, and recorded; RunOnce runs one run of a
// perpetual task.
type RecordingBackend struct {
	holder
}

var _ Controller = (*RecordingBackend)(nil)

var recordingCapabilities = Capabilities{Defer: true, Priority: true, GetResult: true, Cancel: true, Retry: true, Timeout: true, Limits: true,
	Perpetual: true, MaxQueued: true, Tags: true, Deadline: true, DiscardResult: true}

// NewRecording builds a RecordingBackend, or joins the state of the ones
// already built under cfg.Name.
func NewRecording(cfg Config) (*RecordingBackend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("recording"); err != nil {
		return nil, err
	}
	s, err := open(settings{kind: "recording", cfg: cfg}, modeRecord, recordingCapabilities, func(s *state) error {
		s.startWorkers(0)
		return s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &RecordingBackend{holder{s: s}}, nil
}

// RunOnce runs one run of a perpetual or cron task now, in the caller's
// goroutine, although the backend runs nothing else: see
// ImmediateBackend.RunOnce, which it does the same, retries back to back
// included. Recorded does not list the run; GetResult and Wait know it by
// its ID. It is for tests that check what a program enqueues and what one
// run of its perpetual task does, such as an automatic task Config.Automatic
// started, whose first run Recorded lists.
func (b *RecordingBackend) RunOnce(ctx context.Context, task Definition, args any) (RunOnceResult, error) {
	if b.closed.Load() {
		return RunOnceResult{}, b.s.closedError(task)
	}
	return b.s.runOnce(ctx, task, args)
}

// Wait returns an error at once for a run that has not finished: the
// recording backend never runs tasks, so waiting would never end.
func (b *RecordingBackend) Wait(ctx context.Context, id string) (TaskResult, error) {
	res, err := b.GetResult(ctx, id)
	if err != nil || res.Status.Finished() {
		return res, err
	}
	return TaskResult{}, fmt.Errorf("localtasks: wait for task %s: the recording backend never runs tasks, so it would wait forever: use ImmediateBackend or ThreadPoolBackend to run them: %w",
		id, errors.ErrUnsupported)
}

// Recorded returns a snapshot of every run enqueued so far, in order.
func (b *RecordingBackend) Recorded() []TaskResult {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskResult, len(s.recorded))
	for i, rec := range s.recorded {
		out[i] = s.snapshot(rec)
	}
	return out
}

// Clear forgets every run recorded so far, as if none had been enqueued.
func (b *RecordingBackend) Clear() {
	s := b.s
	s.mu.Lock()
	recorded := s.recorded
	s.recorded = nil
	for _, rec := range recorded {
		s.view.count(rec, rec.status, 0) // the finished ones: as the store drops them
	}
	// Their keys, groups and count go with them.
	clear(s.keys)
	s.gates = nil
	s.active = 0
	s.madeRoom()
	s.mu.Unlock()
	for _, rec := range recorded {
		s.results.remove(rec) // first: its slot is freed by the last of the two
		s.index.del(rec)
	}
}
