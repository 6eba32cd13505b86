package localtasks

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/localtasks/localtasks/internal/backoff"
)

// restoreJournal opens s's journal and takes back what it holds, as the
// state opens, before its workers start: the queued and scheduled runs
// resume, a run that was running starts a new attempt (its interrupted one
// recorded as failed), the finished ones are results again, and the strikes
// are in force. Then it starts the committer.
func (s *state) restoreJournal(ctx context.Context) error {
	jr := s.jr
	format, err := jr.j.Open(ctx, s.name, JournalFormat)
	if err != nil {
		return journalError(fmt.Sprintf("localtasks: backend %q: opening its journal", s.name), err)
	}
	if format != JournalFormat {
		return fmt.Errorf("localtasks: backend %q: its journal holds runs in format %d, and this program writes format %d: "+
			"run the version of the program that wrote it until its queue is empty, or start with a new journal: %w",
			s.name, format, JournalFormat, ErrJournal)
	}
	var (
		unfinished, finished []*record
		strikes              []Strike
		keys                 []string
		pauses               []Pause
	)
	now := s.clock.Now()
	err = jr.j.Load(ctx, func(run *JournalRun) error {
		rec, err := s.recordOf(run, now)
		if err != nil {
			return err
		}
		if rec.status.Finished() {
			finished = append(finished, rec)
		} else {
			unfinished = append(unfinished, rec)
		}
		return nil
	}, func(js *JournalStrike) error {
		if strings.HasPrefix(js.Key, "pause ") {
			var jp journalPause
			if err := json.Unmarshal(js.Data, &jp); err == nil && jp.Pause != nil {
				pauses = append(pauses, Pause{Queue: jp.Pause.Queue, Task: jp.Pause.Task})
				return nil
			}
		}
		st, err := strikeOf(js)
		if err != nil {
			s.logger.Error("localtasks: a strike in the journal no longer applies: it is lifted", "backend", s.name, "strike", js.Key, "error", err)
			return nil
		}
		strikes, keys = append(strikes, st), append(keys, js.Key)
		return nil
	})
	if err != nil {
		return journalError(fmt.Sprintf("localtasks: backend %q: reading its journal", s.name), err)
	}
	if err := s.index.restore(slices.Concat(unfinished, finished)); err != nil {
		return fmt.Errorf("localtasks: backend %q: its journal: %v: %w", s.name, err, ErrJournal)
	}

	s.mu.Lock()
	for i, st := range strikes {
		if r, err := compileStrike(st); err == nil {
			r.jkey = keys[i]
			s.strikes = append(s.strikes, r)
		} else {
			s.logger.Error("localtasks: a strike in the journal no longer applies: it is lifted", "backend", s.name, "strike", st.String(), "error", err)
			jr.strike(keys[i], st, true)
		}
	}
	s.nstrikes.Store(int32(len(s.strikes)))
	for _, p := range pauses {
		s.restorePause(p)
	}

	// The finished first, oldest first, so that the result store keeps
	// the newest of them and drops (from the journal too) those beyond
	// MaxResults.
	slices.SortFunc(finished, func(a, b *record) int { return cmp.Compare(a.finishedAt, b.finishedAt) })
	ttl := s.set.cfg.ResultTTL
	for _, rec := range finished {
		if ttl > 0 && !s.time(rec.finishedAt).Add(ttl).After(now) || rec.noResult {
			s.index.del(rec) // its ResultTTL passed while no program ran, or it keeps no result
			jr.forget(rec)
			continue
		}
		s.view.finished(rec)
		rec.stored.Store(storedPublished)
		s.results.add(rec, rec.status != StatusSuccessful)
		if ttl > 0 {
			s.expire(rec, s.time(rec.finishedAt), now)
		}
	}
	slices.SortFunc(unfinished, func(a, b *record) int { return cmp.Compare(a.enqueuedAt, b.enqueuedAt) })
	jr.quiet = true // the journal has them as they are put back
	var changed []*record
	for _, rec := range unfinished {
		if s.resume(rec, now) {
			changed = append(changed, rec)
		}
	}
	jr.quiet = false
	for _, rec := range changed {
		s.mark(rec)
	}
	s.mu.Unlock()
	go s.commitLoop()
	return nil
}

// resume queues rec, an unfinished run from the journal, as it was; one
// that was running starts a new attempt. It reports whether rec changed
// from what the journal holds. Must hold s.mu.
func (s *state) resume(rec *record, now time.Time) (changed bool) {
	st := rec.status
	rec.status = 0 // a new run, for the counts
	s.active++
	if _, missing := rec.def.(missingTask); missing {
		s.setStatus(rec, StatusReady)
		x := rec.extra()
		x.errs = append(x.errs, TaskError{Attempt: int(rec.attempts), At: now, Type: "localtasks.missingTask",
			Message: fmt.Sprintf("task %q is not defined in this program: the run, taken back from the journal, cannot run: "+
				"define the task again, under the same name, to run such runs", rec.def.Name())})
		s.finalize(rec, StatusFailed, now, false)
		return true
	}
	if x := rec.x; x != nil && x.key != "" {
		s.keys[keyOf{rec.def.Name(), x.key}] = rec
	}
	// Its limits are its task's, as defined now.
	if o := rec.def.Options(); o.hasLimits() {
		if lim, err := limitPlan(rec.def, &o); err == nil {
			s.attachGates(rec, lim)
		}
	}
	switch st {
	case StatusReady, StatusScheduled:
		// A time that passed while no program ran comes once: a cron
		// task's missed times make one run, now (see docs/durability.md).
		if at := s.time(rec.runAfter); st == StatusScheduled && at.After(now) {
			s.schedule(rec, at) // fire watches its deadline from then on
			return false
		}
		s.push(rec)
		if rec.x != nil && rec.x.deadline != 0 && rec.attempts == 0 {
			s.watchDeadline(rec)
		}
		return false
	}
	// It was running when the program stopped: its attempt is recorded as
	// failed, and it starts again, after its retry policy's delay, even
	// if that was its last attempt: a restart is not the task's failure,
	// and every run is done at least once.
	x := rec.extra()
	x.errs = append(x.errs, TaskError{Attempt: int(rec.attempts), At: now, Type: "localtasks.Restart",
		Message: "interrupted by a restart: the program stopped while the attempt ran"})
	s.counters.Retried++
	p := &x.retry
	if delay := backoff.Delay(int(rec.attempts), p.Delay, p.MaxDelay, p.Multiplier, p.Jitter, rand.Float64()); delay > 0 {
		s.schedule(rec, now.Add(delay))
		return true
	}
	s.push(rec)
	return true
}

// recordOf makes the record of a run from the journal, with no status in
// the counts yet.
func (s *state) recordOf(run *JournalRun, now time.Time) (*record, error) {
	if !run.Status.Finished() && run.Status != StatusReady && run.Status != StatusScheduled && run.Status != StatusRunning {
		return nil, fmt.Errorf("run %s has the unknown status %d", run.ID, run.Status)
	}
	queue := slices.Index(s.set.cfg.Queues, run.Queue)
	if queue < 0 {
		return nil, fmt.Errorf("run %s of task %q is in the queue %q, which the backend's Config.Queues no longer lists: list it again",
			run.ID, run.Task, run.Queue)
	}
	slot, ok := idSlot(run.ID)
	if !ok {
		return nil, fmt.Errorf("%q is not an ID this package made", run.ID)
	}
	var d journalDetail
	if len(run.Detail) > 0 {
		if err := json.Unmarshal(run.Detail, &d); err != nil {
			return nil, fmt.Errorf("run %s: its detail does not decode: %v", run.ID, err)
		}
	}
	def, known := Lookup(run.Task)
	if !known {
		def = missingTask{name: run.Task}
	}
	rec := &record{id: run.ID, slot: slot, def: def, queue: uint16(queue), priority: int8(run.Priority), timeout: d.Timeout,
		status: run.Status, attempts: int32(run.Attempts), enqueuedAt: s.offset(run.EnqueuedAt), noResult: d.DiscardResult}
	setTime := func(o *offset, t time.Time) {
		if !t.IsZero() {
			*o = s.offset(t)
		}
	}
	setTime(&rec.runAfter, run.RunAfter)
	setTime(&rec.finishedAt, run.FinishedAt)
	if d.LastAttemptedAt != nil {
		setTime(&rec.lastAttemptedAt, *d.LastAttemptedAt)
	}
	if len(d.Workers) > 0 {
		rec.worker0 = d.Workers[0]
	}
	x := &recordExtra{errs: d.Errors, cancelReason: d.CancelReason, key: run.Key}
	if len(d.Tags) > 0 {
		x.tags = d.Tags
	}
	if len(d.Metadata) > 0 {
		x.meta = d.Metadata
	}
	if d.Retry != nil {
		x.retry = *d.Retry
		x.retry.Decide = def.Options().Retry.Decide // a function is not journaled
	}
	x.snoozes = d.Snoozes
	if d.Deadline != nil {
		setTime(&x.deadline, *d.Deadline)
	}
	if len(d.Workers) > 1 {
		x.workers = d.Workers[1:]
		if d.StartedAt != nil {
			setTime(&x.startedAt, *d.StartedAt)
		}
	}
	if p := d.Perpetual; p != nil {
		opts := Options{Priority: run.Priority, Queue: run.Queue, Timeout: d.Timeout, Retry: x.retry, Key: run.Key, DiscardResult: d.DiscardResult,
			Perpetual: Perpetual{Every: p.Every, Cron: p.Cron, Automatic: p.Automatic}, Tags: x.tags, Metadata: x.meta}
		if p.Location != "" {
			loc, err := time.LoadLocation(p.Location)
			if err != nil {
				return nil, fmt.Errorf("run %s of task %q: its cron location %q does not load: %v", run.ID, run.Task, p.Location, err)
			}
			opts.Perpetual.Location = loc
		}
		if known {
			d := def.Options()
			opts.Concurrency, opts.RateLimits, opts.Debounces, opts.Cooldowns = d.Concurrency, d.RateLimits, d.Debounces, d.Cooldowns
			if p.Schedule {
				opts.Perpetual.Schedule = d.Perpetual.Schedule // nil if it lost it: the chain ends after this run, logged
			}
		}
		x.perp = &perpetual{opts: opts}
	}
	if len(x.errs) > 0 || x.cancelReason != "" || x.key != "" || x.retry.retries() || x.snoozes != 0 || x.perp != nil || x.startedAt != 0 || x.workers != nil ||
		x.deadline != 0 || x.tags != nil || x.meta != nil {
		rec.x = x
	}
	if !rec.status.Finished() { // a finished run's row is never written again: no need of its bytes
		b := bytes.Clone(run.Args)
		rec.payload = &b
	}
	if !known {
		return rec, nil
	}
	args, err := def.decodeArgs(run.Args)
	if err != nil {
		if rec.status.Finished() {
			s.logger.Error("localtasks: a finished run's argument in the journal no longer decodes: its result shows none",
				"backend", s.name, "task", run.Task, "id", run.ID, "error", err)
			return rec, nil
		}
		return nil, fmt.Errorf("run %s of task %q: its argument no longer decodes as a %v (%v): "+
			"keep the argument type compatible with gob's rules while runs are queued", run.ID, run.Task, def.ArgsType(), err)
	}
	rec.args = args
	if run.Status == StatusSuccessful && len(run.Value) > 0 {
		v, err := def.decodeResult(run.Value)
		if err != nil {
			s.logger.Error("localtasks: a run's value in the journal no longer decodes: its result shows none",
				"backend", s.name, "task", run.Task, "id", run.ID, "error", err)
		} else {
			rec.value = v
		}
	}
	return rec, nil
}

// strikeOf decodes a strike from the journal.
func strikeOf(js *JournalStrike) (Strike, error) {
	var j struct {
		Task  string          `json:"task"`
		Field string          `json:"field"`
		Op    Operator        `json:"op"`
		Value json.RawMessage `json:"value"`
		Upper json.RawMessage `json:"upper"`
	}
	if err := json.Unmarshal(js.Data, &j); err != nil {
		return Strike{}, err
	}
	st := Strike{Task: j.Task, Field: j.Field, Op: j.Op}
	var err error
	if st.Value, err = jsonValue(j.Value); err != nil {
		return Strike{}, err
	}
	if st.Upper, err = jsonValue(j.Upper); err != nil {
		return Strike{}, err
	}
	return st, nil
}

// jsonValue decodes a strike's value: a number as an int64 if it is one,
// else a float64, so that large integers keep every digit.
func jsonValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		return n.Float64()
	}
	return v, nil
}

// missingTask stands for a task that a journal's run names and this
// program does not define: its runs fail as the backend starts.
type missingTask struct{ name string }

func (m missingTask) Name() string             { return m.name }
func (m missingTask) Options() Options         { return Options{} }
func (m missingTask) ArgsType() reflect.Type   { return reflect.TypeFor[any]() }
func (m missingTask) ResultType() reflect.Type { return reflect.TypeFor[any]() }
func (m missingTask) Call(context.Context, any) (any, error) {
	return nil, fmt.Errorf("localtasks: task %q is not defined in this program: %w", m.name, ErrInvalidTask)
}
func (m missingTask) definedAt() string                { return "nowhere: a journal's run names it" }
func (m missingTask) checkArgs(any) error              { return m.missing() }
func (m missingTask) zeroArgs() any                    { return nil }
func (m missingTask) checkCodec() error                { return m.missing() }
func (m missingTask) definedAfterInit() bool           { return false }
func (m missingTask) encodeArgs(any) ([]byte, error)   { return nil, m.missing() }
func (m missingTask) decodeArgs([]byte) (any, error)   { return nil, m.missing() }
func (m missingTask) encodeResult(any) ([]byte, error) { return nil, m.missing() }
func (m missingTask) decodeResult([]byte) (any, error) { return nil, m.missing() }
func (m missingTask) missing() error {
	return fmt.Errorf("localtasks: task %q is not defined in this program: %w", m.name, ErrInvalidTask)
}
