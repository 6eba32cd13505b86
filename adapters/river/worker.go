package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// jobArgs is the River job args of every task: the kind is the task's
// name, and the argument its JSON. The key, if any, is the only field
// River's unique jobs look at.
type jobArgs struct {
	kind string
	Key  string          `json:"key,omitempty" river:"unique"`
	Args json.RawMessage `json:"args"`
}

// Kind returns the task's name.
func (a jobArgs) Kind() string { return a.kind }

// metaKey holds a run's settings in its job's metadata; cancelReasonKey
// why it was cancelled.
const (
	metaKey         = "localtasks"
	cancelReasonKey = "localtasks_cancel_reason"
)

// jobMeta is what a run needs beyond River's columns.
type jobMeta struct {
	Priority int                    `json:"priority,omitzero"`
	Timeout  time.Duration          `json:"timeout,omitzero"`
	Retry    localtasks.RetryPolicy `json:"retry,omitzero"`
	Trace    map[string]string      `json:"trace,omitzero"` // Config.Propagator's carrier

	// snoozes is how often the job snoozed, which River keeps in its own
	// metadata key: River does not count a snoozed attempt, localtasks
	// numbers it, so a run's attempt number is River's plus its snoozes.
	snoozes int
}

// output is what the workers record through river.RecordOutput, for every
// attempt, whatever its outcome: the value, and what River's columns lack.
type output struct {
	Value     json.RawMessage `json:"value,omitempty"`
	StartedAt time.Time       `json:"started_at"`
	Errors    []attemptError  `json:"errors,omitempty"`
	Progress  *progress       `json:"progress,omitempty"`
}

type attemptError struct {
	Attempt int           `json:"attempt"`
	At      time.Time     `json:"at"`
	Type    string        `json:"type"`
	Message string        `json:"message"`
	Stack   string        `json:"stack,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"` // the timeout it ran past
	// Matches are the registered errors it matched, for errors.Is and
	// errors.As wherever the result is read.
	Matches []backendkit.ErrorMatch `json:"matches,omitempty"`
}

type progress struct {
	Done    int64     `json:"done"`
	Total   int64     `json:"total"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// taskWorker runs one task's jobs.
type taskWorker struct {
	river.WorkerDefaults[jobArgs]
	b   *Backend
	def localtasks.Definition
	// unchained is, for a perpetual task, why its runs cannot shape the
	// next: see backendkit.TaskInfo.Unchained.
	unchained string
	// retries holds, from Work to NextRetry, the time of a failed job's
	// retry, by job ID: the policy decides it by the error, which
	// NextRetry is not given.
	retries sync.Map
}

// Timeout is none: the attempt's timeout runs on Config.Clock (see Work).
func (w *taskWorker) Timeout(*river.Job[jobArgs]) time.Duration { return -1 }

// NextRetry is when the failed attempt is retried, as Work's judgement of
// its error decided.
func (w *taskWorker) NextRetry(job *river.Job[jobArgs]) time.Time {
	if at, ok := w.retries.LoadAndDelete(job.ID); ok {
		return at.(time.Time)
	}
	m := readMetadata(job.JobRow).M
	return w.b.clock.Now().Add(retryDelay(m.Retry, job.Attempt))
}

// retryDelay is the wait after the failure of attempt n.
func retryDelay(p localtasks.RetryPolicy, n int) time.Duration {
	d := float64(p.Delay)
	if p.Multiplier > 1 {
		d *= math.Pow(p.Multiplier, float64(n-1))
	}
	if p.MaxDelay > 0 && d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	if d > math.MaxInt64 {
		d = math.MaxInt64
	}
	if p.Jitter > 0 {
		d -= d * p.Jitter * rand.Float64()
	}
	return time.Duration(d)
}

func (w *taskWorker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	b, def := w.b, w.def
	md := readMetadata(job.JobRow)
	args, argErr := decode(def.ArgsType(), job.Args.Args) // once, for the strikes and the call
	if argErr == nil {
		if err := b.strikeStart(ctx, def, job, args, len(md.Output.Errors) > 0); err != nil {
			return err
		}
	}
	meta, out := md.M, md.Output
	if out.StartedAt.IsZero() {
		out.StartedAt = b.clock.Now().UTC()
		if job.AttemptedAt != nil {
			out.StartedAt = job.AttemptedAt.UTC()
		}
	}
	id := formatID(job.ID)

	var mu sync.Mutex // guards out from here on
	record := func() {
		if err := river.RecordOutput(ctx, &out); err != nil {
			b.logger.Error("localtasks/river: cannot record a run's output", "task", def.Name(), "task_id", id, "error", err)
		}
	}
	report := func(done, total int64, message string) {
		mu.Lock()
		out.Progress = &progress{Done: done, Total: total, Message: message, At: b.clock.Now().UTC()}
		record()
		mu.Unlock()
		// Store it now, for readers elsewhere; River stores it again at the end.
		row, err := b.client.JobUpdate(ctx, job.ID, &river.JobUpdateParams{})
		if err != nil {
			b.logger.Warn("localtasks/river: cannot store a run's progress", "task", def.Name(), "task_id", id, "error", err)
			return
		}
		row.State = rivertype.JobStateRunning
		b.publish(localtasks.EventProgress, row)
	}
	defer func() { // on every way out: the last word on the attempt
		mu.Lock()
		record()
		mu.Unlock()
	}()
	if b.events.Subscribed() {
		b.order.wait(job.ID) // after its EventEnqueued, if this process is enqueuing it
		started := *job.JobRow
		started.Metadata = mustMerge(job.Metadata, &out)
		b.publish(localtasks.EventStarted, &started)
	} else {
		b.watch.wake(job.ID, nil) // its watches read it
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer b.local.start(job.ID, cancel)()
	tm := newTimeout(b.clock, meta.Timeout, cancel)
	defer tm.stop()
	info := backendkit.TaskInfo{ID: id, Task: def.Name(), Attempt: job.Attempt + meta.snoozes, Logger: b.logger, Progress: report,
		ExtendTimeout: tm.extend, Unchained: w.unchained}
	if !b.cfg.RunLogs.Off {
		logs := &attemptLogs{cfg: &b.cfg.RunLogs, attempt: info.Attempt, earlier: md.Log}
		info.Capture = logs.capture
		defer logs.store(ctx, b, job.JobRow) // ctx holds riverlog's writer
	}
	tctx := backendkit.WithTaskInfo(runCtx, info)

	if p := b.cfg.Propagator; p != nil && meta.Trace != nil {
		tctx = p.Extract(tctx, meta.Trace)
	}
	ex := localtasks.Execution{ID: id, Task: def.Name(), Attempt: job.Attempt + meta.snoozes, Queue: job.Queue, Priority: meta.Priority}
	var value any
	var err error
	var stack string
	if argErr != nil {
		err = fmt.Errorf("localtasks/river: task %q: cannot decode its argument: %w", def.Name(), argErr)
	} else {
		value, err, stack = call(tctx, def, args, b.cfg.Middleware, ex)
	}
	cancelled := errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely) ||
		errors.Is(context.Cause(runCtx), localtasks.ErrCancelled) // by a Cancel in this process: see localRuns
	if err == nil && !cancelled {
		raw, merr := json.Marshal(value)
		if merr == nil {
			mu.Lock()
			out.Value = raw
			mu.Unlock()
			return nil
		}
		err = fmt.Errorf("localtasks/river: the task's result, a %T, cannot be JSON-encoded: %w", value, merr)
	}
	timedOut := tm.expired()
	if ctx.Err() != nil && !cancelled && timedOut == 0 {
		// River is stopping: it puts the job back in its queue, attempt
		// and all, if the error is the ctx's.
		return context.Cause(ctx)
	}
	if cancelled {
		return river.JobCancel(errors.New("cancelled while it was running"))
	}
	now := b.clock.Now()
	policy := meta.Retry
	policy.Decide = def.Options().Retry.Decide // a function does not travel: Enqueue made sure it is the definition's
	v := backendkit.Judge(policy, job.Attempt, job.MaxAttempts, err, now)
	if v.Snooze {
		return river.JobSnooze(max(v.At.Sub(now), 0)) // River counts it as no attempt: it raises max_attempts
	}
	err = v.Err
	ae := attemptError{Attempt: job.Attempt, At: now.UTC(), Type: fmt.Sprintf("%T", err), Message: err.Error(), Stack: stack,
		Matches: backendkit.MatchErrors(err)}
	if stack != "" {
		ae.Type = typeOfPanic(err)
	}
	if timedOut > 0 {
		terr := backendkit.NewTimeoutError(timedOut, err)
		ae.Type, ae.Message, ae.Stack, ae.Timeout = fmt.Sprintf("%T", terr), terr.Error(), "", timedOut
		err = terr
	}
	mu.Lock()
	out.Errors = append(out.Errors, ae)
	mu.Unlock()
	if v.Final {
		// River discards a job whose attempts are spent, by the job row it
		// hands the worker: a Permanent error, or the policy's no, spends them.
		job.MaxAttempts = job.Attempt
	} else {
		w.retries.Store(job.ID, v.At)
	}
	return err
}

// timeout is an attempt's timeout, on the backend's clock, which the task
// may extend.
type timeout struct {
	clock  localtasks.Clock
	cancel context.CancelCauseFunc
	start  time.Time

	mu    sync.Mutex
	timer localtasks.Timer // nil for no timeout
	total time.Duration    // the timeout, extensions included
	fired time.Duration    // the total when it expired; 0 while it has not
}

func newTimeout(clock localtasks.Clock, d time.Duration, cancel context.CancelCauseFunc) *timeout {
	t := &timeout{clock: clock, cancel: cancel, start: clock.Now(), total: d}
	if d > 0 {
		t.arm(d)
	}
	return t
}

// arm starts the timer for what is left of the total. Must hold t.mu, or
// be in newTimeout.
func (t *timeout) arm(left time.Duration) {
	total := t.total
	t.timer = t.clock.AfterFunc(left, func() {
		t.mu.Lock()
		t.fired = total
		t.mu.Unlock()
		t.cancel(backendkit.NewTimeoutError(total, nil))
	})
}

// extend is localtasks.ExtendTimeout's.
func (t *timeout) extend(d time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.timer == nil:
		return nil // no timeout: nothing to extend
	case !t.timer.Stop():
		return fmt.Errorf("localtasks/river: ExtendTimeout too late: %w", backendkit.NewTimeoutError(t.total, nil))
	}
	t.total += d
	t.arm(t.start.Add(t.total).Sub(t.clock.Now()))
	return nil
}

// expired returns the timeout, extensions included, if it expired; else 0.
func (t *timeout) expired() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fired
}

func (t *timeout) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
}

// panicked is the error of an attempt that panicked.
type panicked struct{ value any }

func (p *panicked) Error() string { return fmt.Sprint(p.value) }

func typeOfPanic(err error) string {
	var p *panicked
	if errors.As(err, &p) {
		return fmt.Sprintf("%T", p.value)
	}
	return fmt.Sprintf("%T", err)
}

// call calls the task with args, decoded, through the middleware mw
// (Config.Middleware), outermost first, turning a panic in the task or the
// chain into an error and its stack. ex describes the attempt, its Args
// left to call.
func call(ctx context.Context, def localtasks.Definition, args any, mw []localtasks.Middleware, ex localtasks.Execution) (value any, err error, stack string) {
	defer func() {
		if v := recover(); v != nil {
			value, err, stack = nil, &panicked{value: v}, string(debug.Stack())
		}
	}()
	if len(mw) == 0 {
		value, err = def.Call(ctx, args)
		return value, err, ""
	}
	ex.Args = args
	value, err = callChain(ctx, def, args, mw, ex)
	return value, err, ""
}

// callChain is call through a chain of middleware. It is a function of its
// own so that the closure capturing value costs call's common path, no
// middleware, nothing: a captured result variable lives on the heap.
func callChain(ctx context.Context, def localtasks.Definition, args any, mw []localtasks.Middleware, ex localtasks.Execution) (value any, err error) {
	next := func(ctx context.Context) error {
		var err error
		value, err = def.Call(ctx, args)
		return err
	}
	for i := len(mw) - 1; i >= 0; i-- {
		m, inner := mw[i], next
		next = func(ctx context.Context) error { return m(ctx, ex, inner) }
	}
	if err := next(ctx); err != nil {
		return nil, err
	}
	return value, nil
}

// decode decodes raw into a value of type t.
func decode(t reflect.Type, raw json.RawMessage) (any, error) {
	p := reflect.New(t)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, p.Interface()); err != nil {
			return nil, err
		}
	}
	return p.Elem().Interface(), nil
}

// metadata is what the adapter reads of a job's metadata, in one pass.
type metadata struct {
	M       jobMeta `json:"localtasks"`
	Snoozes int     `json:"snoozes"` // River's count
	// Output is what the workers recorded, under River's
	// rivertype.MetadataKeyOutput (TestMetadataKeys checks the tag).
	Output       output `json:"output"`
	CancelReason string `json:"localtasks_cancel_reason"` // cancelReasonKey
	Struck       bool   `json:"localtasks_struck"`        // struckKey
	// Log is the run's logs, riverlog's list (logKey), read only when
	// asked for.
	Log json.RawMessage `json:"river:log"`
}

// readMetadata reads row's metadata: the run's settings (with River's
// count of snoozes), the workers' output, and why it was cancelled.
func readMetadata(row *rivertype.JobRow) metadata {
	var m metadata
	_ = json.Unmarshal(row.Metadata, &m)
	m.M.snoozes = m.Snoozes
	return m
}

// mustMerge returns metadata with out as its recorded output.
func mustMerge(metadata []byte, out *output) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(metadata, &m)
	raw, _ := json.Marshal(out)
	m[rivertype.MetadataKeyOutput] = raw
	b, _ := json.Marshal(m)
	return b
}

// typeChecks caches checkType's verdicts.
var typeChecks sync.Map // reflect.Type → error (nil for fine)

// checkTypes reports whether JSON can carry def's argument and result.
func checkTypes(def localtasks.Definition) error {
	for _, t := range []reflect.Type{def.ArgsType(), def.ResultType()} {
		if v, ok := typeChecks.Load(t); ok {
			if v != nil {
				return v.(error)
			}
			continue
		}
		err := checkType(t, map[reflect.Type]bool{})
		if err != nil {
			err = fmt.Errorf("JSON cannot carry a %v: %w", t, err)
			typeChecks.Store(t, err)
			return err
		}
		typeChecks.Store(t, nil)
	}
	return nil
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
)

// checkType finds what in t encoding/json refuses to encode.
func checkType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("it holds a %v, which JSON has no form for", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkType(t.Elem(), seen)
	case reflect.Map:
		k := t.Key()
		switch k.Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !k.Implements(textMarshalerType) {
				return fmt.Errorf("it holds a %v, a map whose keys JSON cannot key an object by", t)
			}
		}
		return checkType(t.Elem(), seen)
	case reflect.Struct:
		for f := range t.Fields() {
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
				continue
			}
			if err := checkType(f.Type, seen); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
	}
	return nil
}
