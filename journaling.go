package localtasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the state's side of a Journal (see journal.go): which runs
// changed, one goroutine that commits them, and Enqueue's wait for the
// commit that holds its run.
//
// A transition marks its run dirty under state.mu (setStatus, and a few
// other changes a restart needs): the run joins the journaler's list once,
// however many times it changes before the next commit. The committer takes
// the list under state.mu, copies each run's row, leaves the lock, encodes
// the rows and commits them: a run enqueued, run and finished between two
// commits costs one row. In JournalDurable mode the committer commits as
// soon as something is dirty, and whatever becomes dirty while a commit is
// being synced goes in the next one: enqueues at the same time share a
// commit (group commit). In JournalBatched mode it waits a window first.

// journaler is a state's link to its Journal.
type journaler struct {
	j      Journal
	mode   JournalMode
	window time.Duration
	kick   chan struct{} // capacity 1: something is dirty
	full   chan struct{} // capacity 1: JournalBatchMax runs are dirty, commit without waiting for the window
	stop   chan struct{} // closed by shutdown: commit what is left and exit
	exited chan struct{} // closed when the committer has exited

	commits, rows, failures atomic.Uint64 // see Counters

	// mu guards what follows. It is a leaf: taken under state.mu by marks,
	// and under results.mu by evictions.
	mu      sync.Mutex
	dirty   []*record       // the runs changed since the last take; record.jdirty says which
	deleted []string        // the IDs of runs the result store dropped
	strikes []JournalStrike // strikes put in force or lifted
	open    *commitWait     // what the next commit closes

	quiet bool // guarded by state.mu: restore is putting runs back as the journal has them, and marks none
}

// commitWait is closed by the commit of one batch, with its outcome.
type commitWait struct {
	done chan struct{}
	err  error
}

func newJournaler(cfg *Config) *journaler {
	return &journaler{j: cfg.Journal, mode: cfg.JournalMode, window: cfg.JournalWindow,
		kick: make(chan struct{}, 1), full: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
		open: &commitWait{done: make(chan struct{})}}
}

// mark journals rec's change: its row is written by the next commit. Must
// hold s.mu.
func (s *state) mark(rec *record) {
	jr := s.jr
	if rec.jdirty || jr.quiet || rec.jstatus != 0 {
		return // in the next commit already, or put back or kept as the journal has it
	}
	rec.jdirty = true
	jr.mu.Lock()
	jr.dirty = append(jr.dirty, rec)
	n := len(jr.dirty)
	first := n == 1 && len(jr.deleted) == 0 && len(jr.strikes) == 0
	jr.mu.Unlock()
	if first {
		jr.wake()
	}
	if n == JournalBatchMax {
		select {
		case jr.full <- struct{}{}:
		default:
		}
	}
}

// crowded reports whether JournalBatchMax runs or more wait for a commit:
// a JournalBatched Enqueue then waits for that commit, so that what a
// crash can lose stays bounded. Must hold s.mu.
func (jr *journaler) crowded() bool {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return len(jr.dirty) >= JournalBatchMax
}

// forget journals that the result store dropped the finished rec. Called
// under results.mu, or under state.mu.
func (jr *journaler) forget(rec *record) {
	jr.mu.Lock()
	jr.deleted = append(jr.deleted, rec.id)
	jr.mu.Unlock()
	jr.wake()
}

// strike journals a strike put in force, or lifted. Must hold s.mu.
func (jr *journaler) strike(key string, st Strike, lifted bool) {
	js := JournalStrike{Key: key, Lifted: lifted}
	if !lifted {
		b, err := json.Marshal(journalStrikeOf(st))
		if err != nil {
			return // compileStrike accepted only numbers, strings, bools and times
		}
		js.Data = b
	}
	jr.mu.Lock()
	jr.strikes = append(jr.strikes, js)
	jr.mu.Unlock()
	jr.wake()
}

// pause journals a pause put in force, or lifted, as a row of the strikes'
// table: its Key is pauseKey's, and its Data says which it is. Must hold
// s.mu.
func (jr *journaler) pause(p Pause, lifted bool) {
	js := JournalStrike{Key: pauseKey(p), Lifted: lifted}
	if !lifted {
		js.Data, _ = json.Marshal(journalPause{Pause: journalPauseOf(p)})
	}
	jr.mu.Lock()
	jr.strikes = append(jr.strikes, js)
	jr.mu.Unlock()
	jr.wake()
}

// pauseKey is the key of a pause's row in the journal: no strike's key
// (Strike.String) starts with "pause ".
func pauseKey(p Pause) string { return "pause " + p.String() }

// journalPause is a pause as the journal keeps it, beside the strikes.
type journalPause struct {
	Pause *journalPauseData `json:"pause"`
}

type journalPauseData struct {
	Queue string `json:"queue,omitempty"`
	Task  string `json:"task,omitempty"`
}

func journalPauseOf(p Pause) *journalPauseData {
	return &journalPauseData{Queue: p.Queue, Task: p.Task}
}

func (jr *journaler) wake() {
	select {
	case jr.kick <- struct{}{}:
	default:
	}
}

// journalError is err, a Journal's, after msg, matching ErrJournal once:
// a journal's own errors may match it already.
func journalError(msg string, err error) error {
	if errors.Is(err, ErrJournal) {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("%s: %w: %w", msg, ErrJournal, err)
}

// finish stops the committer once it has committed what is dirty, as the
// state shuts down.
func (jr *journaler) finish() {
	close(jr.stop)
	<-jr.exited
}

// unjournaled handles the failure of the commit that held rec, a run
// Enqueue just queued in JournalDurable mode: rec is cancelled if it has
// not started, and the error says what happened.
func (s *state) unjournaled(rec *record, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if queued(rec.status) {
		s.cancelQueued(rec, "the journal could not write it", s.clock.Now())
		return fmt.Errorf("localtasks: enqueue %q: nothing was queued: %w", rec.def.Name(), err)
	}
	return fmt.Errorf("localtasks: enqueue %q: run %s started before the journal failed to write it: it runs, but a restart will not know it: %w",
		rec.def.Name(), rec.id, err)
}

// pending returns what the next commit closes, for an Enqueue to wait on.
// Must hold s.mu, after the run was marked.
func (jr *journaler) pending() *commitWait { return jr.open }

// await waits for cw's commit, and returns its error.
func (jr *journaler) await(cw *commitWait) error {
	<-cw.done
	return cw.err
}

// commitLoop is the committer: it commits what is dirty until shutdown
// closes jr.stop, then commits what is left and exits.
func (s *state) commitLoop() {
	jr := s.jr
	defer close(jr.exited)
	for {
		stopping := false
		select {
		case <-jr.kick:
		case <-jr.stop:
			stopping = true
		}
		if jr.mode == JournalBatched && !stopping {
			t := time.NewTimer(jr.window)
			select {
			case <-t.C:
			case <-jr.full:
				t.Stop()
			case <-jr.stop:
				t.Stop()
				stopping = true
			}
		}
		s.commitDirty()
		if stopping {
			return
		}
	}
}

// commitDirty commits what is dirty, if anything, and releases the
// enqueues that wait for it.
func (s *state) commitDirty() {
	jr := s.jr
	s.mu.Lock()
	jr.mu.Lock()
	recs, deleted, strikes, cw := jr.dirty, jr.deleted, jr.strikes, jr.open
	jr.dirty, jr.deleted, jr.strikes = nil, nil, nil
	jr.open = &commitWait{done: make(chan struct{})}
	jr.mu.Unlock()
	rows := make([]journalRow, len(recs))
	for i, rec := range recs {
		rec.jdirty = false
		rows[i] = s.journalRowOf(rec)
	}
	s.mu.Unlock()

	if len(rows) == 0 && len(deleted) == 0 && len(strikes) == 0 {
		close(cw.done)
		return
	}
	b := &JournalBatch{Runs: make([]JournalRun, len(rows)), Deleted: deleted, Strikes: strikes}
	for i := range rows {
		s.encodeRow(&rows[i], &b.Runs[i])
	}
	if err := jr.j.Commit(context.Background(), b); err != nil {
		jr.failures.Add(1)
		cw.err = journalError(fmt.Sprintf("localtasks: backend %q: writing %d runs to the journal", s.name, len(rows)), err)
		s.logger.Error("localtasks: the journal failed: the runs of this commit do not survive a restart", "backend", s.name, "error", err)
	} else {
		jr.commits.Add(1)
		jr.rows.Add(uint64(len(rows)))
	}
	close(cw.done)
}

// journalRow is a run's row as the committer copies it under state.mu, to
// encode outside it: the slices it holds are only ever appended to.
type journalRow struct {
	rec                          *record
	status                       Status
	attempts                     int
	priority                     int
	value                        any
	enqueuedAt, runAfter, finish offset
	started, last, deadline      offset
	errs                         []TaskError
	workers                      []string
	worker0                      string
	cancelReason                 string
	key                          string
	retry                        RetryPolicy
	snoozes                      int32
	perp                         *Perpetual
	tags                         []string          // never changed once set
	meta                         map[string]string // copied on write: never changed in place
}

// keepAsIs makes the journal keep rec as it is, with the status st,
// whatever Close, about to end it CANCELLED, does to it: a run Close
// cancels in the queue, or abandons while it runs, resumes when a backend
// opens the journal again. rec is journaled again only if a change is
// still to commit (it is dirty): else the journal has it already. Must
// hold s.mu.
func (s *state) keepAsIs(rec *record, st Status) {
	if s.jr != nil {
		rec.jstatus = st
	}
}

// kept makes the journal keep rec with the status st, unfinished, where
// Close just ended it (a retry Close did not make), or made it without
// queueing it (a perpetual run's successor). Must hold s.mu.
func (s *state) kept(rec *record, st Status) {
	if s.jr != nil {
		rec.jstatus = 0 // marked, whatever it was
		s.mark(rec)
		rec.jstatus = st
	}
}

// journalRowOf copies rec's row. Must hold s.mu.
func (s *state) journalRowOf(rec *record) journalRow {
	r := journalRow{rec: rec, status: rec.status, attempts: int(rec.attempts), priority: int(rec.priority), value: rec.value,
		enqueuedAt: rec.enqueuedAt, runAfter: rec.runAfter, finish: rec.finishedAt, started: rec.startedAt(), last: rec.lastAttemptedAt,
		worker0: rec.worker0}
	if x := rec.x; x != nil {
		r.errs, r.workers, r.cancelReason, r.key, r.retry, r.deadline = x.errs, x.workers, x.cancelReason, x.key, x.retry, x.deadline
		r.tags, r.meta, r.snoozes = x.tags, x.meta, x.snoozes
		if x.perp != nil {
			r.perp = &x.perp.opts.Perpetual
		}
	}
	if rec.jstatus != 0 {
		r.status, r.finish, r.cancelReason = rec.jstatus, 0, ""
	}
	return r
}

// journalDetail is JournalRun.Detail: what a restart needs of a run beyond
// the columns, in JSON.
type journalDetail struct {
	Timeout         time.Duration     `json:"timeout,omitempty"`
	Retry           *RetryPolicy      `json:"retry,omitempty"`
	Snoozes         int32             `json:"snoozes,omitempty"` // the attempts that snoozed, which MaxAttempts does not count
	Perpetual       *journalPerpetual `json:"perpetual,omitempty"`
	StartedAt       *time.Time        `json:"started_at,omitempty"`
	LastAttemptedAt *time.Time        `json:"last_attempted_at,omitempty"`
	Workers         []string          `json:"workers,omitempty"`
	Errors          []TaskError       `json:"errors,omitempty"`
	CancelReason    string            `json:"cancel_reason,omitempty"`
	Deadline        *time.Time        `json:"deadline,omitempty"`
	Tags            []string          `json:"tags,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	DiscardResult   bool              `json:"discard_result,omitempty"`
}

// journalPerpetual is a Perpetual, with its location by name.
type journalPerpetual struct {
	Every     time.Duration `json:"every,omitempty"`
	Cron      string        `json:"cron,omitempty"`
	Location  string        `json:"location,omitempty"`
	Automatic bool          `json:"automatic,omitempty"`
	// Schedule: the task has a Schedule, which is code: a restart takes
	// it from the task's definition.
	Schedule bool `json:"schedule,omitempty"`
}

// encodeRow encodes r into run.
func (s *state) encodeRow(r *journalRow, run *JournalRun) {
	rec := r.rec
	*run = JournalRun{ID: rec.id, Task: rec.def.Name(), Queue: s.queueOf(rec), Status: r.status, Priority: r.priority,
		Key: r.key, Attempts: r.attempts, EnqueuedAt: s.wallTime(r.enqueuedAt), RunAfter: s.wallTime(r.runAfter),
		FinishedAt: s.wallTime(r.finish), Args: rec.argBytes()}
	if r.status == StatusSuccessful && r.value != nil {
		b, err := rec.def.encodeResult(r.value)
		if err != nil {
			s.logger.Error("localtasks: a run's value cannot be written to the journal: after a restart it reads as the zero value",
				"backend", s.name, "task", run.Task, "id", rec.id, "error", err)
		}
		run.Value = b
	}
	d := journalDetail{Timeout: rec.timeout, Errors: r.errs, CancelReason: r.cancelReason, Tags: r.tags, Metadata: r.meta, DiscardResult: rec.noResult}
	if r.retry.retries() {
		d.Retry = &r.retry
	}
	d.Snoozes = r.snoozes
	if p := r.perp; p != nil {
		d.Perpetual = &journalPerpetual{Every: p.Every, Cron: p.Cron, Automatic: p.Automatic, Schedule: p.Schedule != nil}
		if p.Location != nil {
			d.Perpetual.Location = p.Location.String()
		}
	}
	if t := s.wallTime(r.started); !t.IsZero() {
		d.StartedAt = &t
	}
	if t := s.wallTime(r.last); !t.IsZero() {
		d.LastAttemptedAt = &t
	}
	if t := s.wallTime(r.deadline); !t.IsZero() {
		d.Deadline = &t
	}
	if r.attempts > 0 {
		d.Workers = append([]string{r.worker0}, r.workers...)
	}
	run.Detail, _ = json.Marshal(&d) // of plain values: it cannot fail
}

// wallTime is the time o stands for, without its monotonic reading, which
// means nothing to another process.
func (s *state) wallTime(o offset) time.Time {
	if o == 0 {
		return time.Time{}
	}
	return s.time(o).Round(0)
}

// journalStrike is a Strike in JSON: its values keep their Go type's name,
// so that a restart compiles the same strike.
type journalStrike struct {
	Task  string   `json:"task"`
	Field string   `json:"field,omitempty"`
	Op    Operator `json:"op,omitempty"`
	Value any      `json:"value,omitempty"`
	Upper any      `json:"upper,omitempty"`
}

func journalStrikeOf(st Strike) journalStrike {
	return journalStrike{Task: st.Task, Field: st.Field, Op: st.Op, Value: st.Value, Upper: st.Upper}
}
