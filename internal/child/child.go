// Package child is the worker process of localtasks' process pool: the
// program's own binary, re-executed by the pool, serving tasks over two
// pipes until the parent closes them. localtasks.Init hands over to Serve
// when the process was started as a worker.
//
// The worker reads run, cancel and recall messages (internal/wire), runs one task at
// a time on its executor goroutine, and sends started, done, log and
// progress messages back; it captures what its tasks print (capture.go),
// enforces its memory limit (memwatch.go), and exits through exit alone,
// with one of the named exit codes.
package child

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/gobcodec"
	"github.com/localtasks/localtasks/internal/taskctx"
	"github.com/localtasks/localtasks/internal/wire"
)

// The worker's exit codes.
const (
	// ExitDone: the parent closed its stream, and every run finished.
	ExitDone = 0
	// ExitFailed: the worker could not start serving, or lost the parent.
	ExitFailed = 3
	// ExitSettings: the worker could not apply the pool's settings to
	// itself (its niceness); its stderr says why.
	ExitSettings = 4
	// ExitInit: the worker initialiser failed; the worker's hello said
	// why.
	ExitInit = 5
	// ExitMemoryLimit: the worker went over its memory limit; the parent
	// reports it as localtasks.ErrMemoryLimit.
	ExitMemoryLimit = 75
)

// exit ends the worker process with code, saying why on stderr (which the
// parent keeps for the error of a dying worker) unless why is nil. It is the
// worker's one way out.
func exit(code int, why error) {
	if why != nil {
		fmt.Fprintf(os.Stderr, "localtasks worker: %v\n", why)
	}
	os.Exit(code)
}

// Task is what a worker needs of a task's definition: its function, and
// the codec of its argument and result.
type Task interface {
	Call(ctx context.Context, args any) (any, error)
	EncodeArgs(args any) ([]byte, error)
	DecodeArgs(b []byte) (any, error)
	EncodeResult(v any) ([]byte, error)
}

// Lookup finds the task registered under name in this process.
type Lookup func(name string) (Task, bool)

// Start runs the worker initialiser registered under name in this process,
// and returns its error, or one saying that no such initialiser exists.
type Start func(ctx context.Context, name string) error

// Extract returns ctx, a task's ctx, with what carrier, a trace context the
// parent sent, holds: localtasks' worker propagator.
type Extract func(ctx context.Context, carrier map[string]string) context.Context

// Serve runs tasks for the parent, as spec (the value of wire.SpecEnv)
// says, until the parent closes the stream, then exits the process. It
// never returns. If the spec names a worker initialiser, start runs it
// first, before the hello: a failure, or a panic, is sent in the hello in
// place of the worker's readiness, and the worker exits. Then extract
// returns the worker's propagator, nil for none: the hello says whether it
// has one, and the parent sends trace contexts only if it does.
func Serve(specText string, lookup Lookup, start Start, extract func() Extract) {
	spec, err := wire.ParseSpec(specText)
	if err != nil {
		exit(ExitFailed, err)
	}
	if err := limit(spec); err != nil {
		exit(ExitSettings, err)
	}
	if spec.MemLimit > 0 {
		watchMemory(spec.MemLimit)
	}
	// The pipes come blocking (os/exec's ExtraFiles makes them so): made
	// non-blocking before os.NewFile, they go to the runtime's poller, and
	// the reader waits parked, not in a read(2) that holds a thread, which
	// the runtime's monitor then hands off every 20 µs while a task runs.
	pollable(wire.InFD)
	pollable(wire.OutFD)
	closeOnExec(wire.InFD)
	closeOnExec(wire.OutFD)
	in := os.NewFile(wire.InFD, "localtasks-in")
	out := os.NewFile(wire.OutFD, "localtasks-out")
	if in == nil || out == nil {
		exit(ExitFailed, errors.New("started without the pipes of a process-pool worker"))
	}
	w := &worker{
		lookup:  lookup,
		limit:   spec.FrameLimit,
		out:     wire.NewWriter(out, spec.FrameLimit),
		flushes: make(chan struct{}, 1),
		runs:    make(map[uint64]*workerRun),
	}
	w.cond.L = &w.mu
	w.hooks = taskctx.Hooks{Report: w.progress, Metadata: w.metadata, Extend: w.extend}
	hello := wire.FromWorker{Kind: wire.KindHello, PID: os.Getpid(), Version: wire.Version}
	if spec.Init != "" {
		// Before the capture of output: what the initialiser prints goes
		// to the real stdout and stderr, which the parent reads and logs
		// itself, and keeps for its error.
		if err := runStart(start, spec.Init); err != nil {
			r := failure.Describe(err)
			hello.Err = &wire.Error{Type: r.Type, Message: r.Message, Stack: r.Stack}
		}
	}
	if hello.Err == nil && extract != nil {
		w.extract = extract()
		hello.Propagates = w.extract != nil
	}
	if err := w.out.WriteFromWorker(&hello); err != nil {
		exit(ExitFailed, err)
	}
	if err := w.out.Flush(); err != nil {
		exit(ExitFailed, err)
	}
	if hello.Err != nil {
		exit(ExitInit, nil)
	}
	if err := w.startCapture(); err != nil {
		exit(ExitFailed, fmt.Errorf("capturing the output of tasks: %w", err))
	}
	go w.flusher()
	if spec.Heartbeat > 0 {
		go w.heartbeat(spec.Heartbeat)
	}
	go w.read(wire.NewReader(in, spec.FrameLimit))
	w.execute()
	w.out.Flush()
	exit(ExitDone, nil)
}

// runStart runs the worker initialiser name, turning a panic into an error.
func runStart(start Start, name string) (err error) {
	defer failure.Catch(&err)
	return start(context.Background(), name)
}

// worker is the worker process's side of the protocol.
type worker struct {
	lookup  Lookup
	limit   int // the frame limit
	out     *wire.Writer
	flushes chan struct{} // asks flusher to flush out

	// omu orders output: the captured lines of a run go out between its
	// started and done messages. Every flush of out that may carry a
	// started message happens under it (flushLocked), so that reported
	// says the truth.
	omu      sync.Mutex
	cur      uint64 // the run executing, 0 between runs; guarded by omu
	reported bool   // the parent has been sent cur's started message; guarded by omu
	report   *time.Timer
	captures []*capture

	mu     sync.Mutex
	cond   sync.Cond
	queue  []*workerRun          // received, not started, in order
	runs   map[uint64]*workerRun // received, not finished
	closed bool                  // the parent closed its stream

	hooks   taskctx.Hooks // every run's: progress, metadata, extend
	extract Extract       // the worker's propagator; nil for none
}

type workerRun struct {
	msg       wire.ToWorker
	ctx       *taskctx.Ctx // while running
	cancelled bool         // before it started

	// A run sent with Await: its KindCarrier came (carried), with its
	// carrier. Guarded by worker.mu.
	carried bool
	carrier map[string]string
}

// read receives the parent's messages until its stream ends.
func (w *worker) read(r *wire.Reader) {
	for {
		var m wire.ToWorker
		err := r.ReadToWorker(&m)
		w.mu.Lock()
		if err != nil {
			// The parent closed the stream, or died: finish what runs, and
			// stop. A running task's ctx is cancelled if the parent is gone
			// for another reason than a clean close.
			w.closed = true
			if !errors.Is(err, io.EOF) {
				for _, run := range w.runs {
					if run.ctx != nil {
						run.ctx.Cancel(context.Canceled, taskctx.ErrClosed)
					}
				}
			}
			w.cond.Broadcast()
			w.mu.Unlock()
			return
		}
		switch m.Kind {
		case wire.KindRun:
			run := &workerRun{msg: m}
			w.runs[m.Seq] = run
			w.queue = append(w.queue, run)
			w.cond.Signal()
		case wire.KindCancel:
			if run := w.runs[m.Seq]; run != nil {
				if run.ctx != nil {
					err, cause := context.Canceled, taskctx.ErrCancelled
					switch {
					case m.TimedOut:
						err, cause = context.DeadlineExceeded, &taskctx.TimeoutError{After: m.Timeout}
					case m.Closing:
						cause = taskctx.ErrClosed
					}
					run.ctx.Cancel(err, cause)
					if run.msg.Await && !run.carried {
						w.cond.Broadcast() // the executor may wait for its carrier
					}
				} else {
					run.cancelled = true
				}
			}
		case wire.KindCarrier:
			// For a run that waits for it (await); dropped if it ended
			// meanwhile, cancelled before its middleware called next.
			if run := w.runs[m.Seq]; run != nil && run.msg.Await && !run.carried {
				run.carried, run.carrier = true, m.Carrier
				w.cond.Broadcast()
			}
		case wire.KindRecall:
			// Taken off the queue under w.mu, where next takes the runs
			// it starts: either the executor has it, and it runs, or it
			// is given back, and never runs here. Nothing in between.
			if i := slices.IndexFunc(w.queue, func(r *workerRun) bool { return r.msg.Seq == m.Seq }); i >= 0 {
				w.queue = slices.Delete(w.queue, i, i+1)
				delete(w.runs, m.Seq)
				w.mu.Unlock()
				w.send(wire.FromWorker{Kind: wire.KindRecalled, Seq: m.Seq})
				continue
			}
		}
		w.mu.Unlock()
	}
}

// next returns the next run to execute, or nil when the parent is done,
// and whether it waited for one.
func (w *worker) next() (run *workerRun, waited bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 {
		if w.closed {
			return nil, waited
		}
		w.cond.Wait()
		waited = true
	}
	run = w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	return run, waited
}

// reportAfter is how long a run may go before the parent hears that it
// started: its timeout and a cancel's grace count from then.
const reportAfter = time.Millisecond

// execute runs the received tasks one at a time.
//
// A worker reports lazily: a run's started and done messages stay buffered
// while more runs wait, and go out when the queue runs dry (so that the
// parent refills it while the last run goes), when a run has gone on for
// reportAfter, or with a log or progress message. What makes it crash-safe
// is one rule: once the parent has heard a run start, it hears the run end
// before the worker starts another. So if the worker dies while the parent
// knows a run to be running, that run is the one that died, and those sent
// after it never started; and if it dies with no run known to be running,
// the parent does not know which of the runs it sent ran, and re-runs
// each alone, eagerly reported (Eager), so that a crash fails only its own
// run (internal: procbridge.go, the suspects).
func (w *worker) execute() {
	settled := false // output was settled just now, when the last run ended
	w.report = time.AfterFunc(time.Hour, w.reportRunning)
	w.report.Stop()
	for {
		run, waited := w.next()
		if run == nil {
			return
		}
		done := w.runOne(run, !settled || waited)
		w.omu.Lock()
		w.report.Stop()
		w.settleOutputLocked() // the run's output goes out before its done message
		reported := w.reported
		w.cur, w.reported = 0, false
		w.writeOrFail(done)
		// The end of a run the parent heard start goes out before
		// another starts; with none waiting, it goes out now anyway.
		if reported || !w.pending() {
			w.flushLocked()
		}
		w.omu.Unlock()
		settled = true
	}
}

// flushLocked sends what out holds. Must hold w.omu.
func (w *worker) flushLocked() {
	if err := w.out.Flush(); err != nil {
		exit(ExitFailed, fmt.Errorf("the parent is gone: %w", err))
	}
	if w.cur != 0 {
		w.reported = true // its started message was written before anything else of it
	}
}

// reportRunning tells the parent that the current run started, if it has
// not heard yet: the run has gone on for reportAfter.
func (w *worker) reportRunning() {
	w.omu.Lock()
	defer w.omu.Unlock()
	if w.cur != 0 && !w.reported {
		w.flushLocked()
	}
}

// runOne runs run, and returns its done message. It settles the output
// written before the run started (as no run's) if settle: not when the
// executor settled the previous run's output a moment ago, on its way here.
func (w *worker) runOne(run *workerRun, settle bool) wire.FromWorker {
	m := run.msg
	done := wire.FromWorker{Kind: wire.KindDone, Seq: m.Seq}
	defer func() {
		w.mu.Lock()
		delete(w.runs, m.Seq)
		w.mu.Unlock()
	}()

	w.mu.Lock()
	if run.cancelled {
		w.mu.Unlock()
		done.Err = &wire.Error{Type: "cancelled", Message: "cancelled before it started"}
		return done
	}
	info := taskctx.Info{ID: m.ID, Task: m.Task, Number: m.Attempt, Perpetual: m.Perpetual,
		Logger: slog.New(&forwardHandler{w: w, seq: m.Seq}), Hooks: &w.hooks, Ref: run}
	if m.Timeout > 0 { // informative: the parent enforces it, from the start it is told of
		info.Deadline = time.Now().Add(m.Timeout)
	}
	ctx := taskctx.New(info)
	run.ctx = ctx
	w.mu.Unlock()
	w.omu.Lock()
	if settle {
		w.settleOutputLocked() // output from before the run is not the run's
	}
	if !w.pending() {
		// The last run sent: the parent hears of those before it now, and
		// sends more while this one goes. This one stays unreported.
		w.flushLocked()
	}
	w.cur, w.reported = m.Seq, false
	w.writeOrFail(wire.FromWorker{Kind: wire.KindStarted, Seq: m.Seq})
	if m.Eager || settle || m.Await {
		// A suspect, alone in this worker, or a run the worker waited
		// for (nothing to batch with): the parent hears it started before
		// it runs, so that a crash is blamed on it at once. A run that
		// awaits its carrier cannot wait for the parent to hear later.
		w.flushLocked()
	} else {
		w.report.Reset(reportAfter)
	}
	w.omu.Unlock()

	carrier := m.Carrier
	if m.Await {
		var ok bool
		if carrier, ok = w.await(run); !ok {
			// Cancelled before the parent's middleware called next (or
			// it never will): the task does not run, as on a thread pool.
			_, cause := ctx.Cause()
			if cause == nil {
				cause = taskctx.ErrClosed // the parent is gone
			}
			ctx.End()
			done.Err = wireError(fmt.Errorf("the attempt ended before its middleware ran it: %w", cause))
			return done
		}
	}
	began := time.Now()
	task, val, err := w.call(ctx, m, carrier)
	done.Took = int64(time.Since(began))
	ctx.End()
	if err == nil {
		done.Value, err = task.EncodeResult(val)
		if err != nil {
			err = keepPanic(fmt.Errorf("its %T result cannot be sent to the parent: %w", val, err))
		}
	}
	if err != nil {
		done.Err = wireError(err)
	}
	if m.Perpetual && task != nil {
		done.Next = wireNext(ctx, task)
	}
	return done
}

// await waits for the carrier of run, sent with Await, which the parent
// sends once its middleware calls next, and returns it; false if the run
// was cancelled first, or the parent's stream ended.
func (w *worker) await(run *workerRun) (map[string]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !run.carried && run.ctx.Err() == nil && !w.closed {
		w.cond.Wait()
	}
	return run.carrier, run.carried
}

// The hooks of every run's ctx, whose Ref is its *workerRun: what the task
// reports goes to the parent.

func (w *worker) progress(c *taskctx.Ctx, done, total int64, message string) {
	w.send(wire.FromWorker{Kind: wire.KindProgress, Seq: c.Ref.(*workerRun).msg.Seq, Done: done, Total: total, Line: message})
}

func (w *worker) metadata(c *taskctx.Ctx, key, value string) {
	w.send(wire.FromWorker{Kind: wire.KindMetadata, Seq: c.Ref.(*workerRun).msg.Seq, Meta: wire.Attr{Key: key, Value: value}})
}

// extend moves the deadline the task sees, and tells the parent, which
// enforces the timeout. A run without a timeout has none to extend.
func (w *worker) extend(c *taskctx.Ctx, d time.Duration) error {
	m := &c.Ref.(*workerRun).msg
	if m.Timeout <= 0 {
		return nil
	}
	if _, cause := c.Cause(); errors.Is(cause, taskctx.ErrTimeout) {
		return fmt.Errorf("localtasks: ExtendTimeout too late: %w", cause)
	}
	dl, _ := c.Deadline()
	c.SetDeadline(dl.Add(d))
	w.send(wire.FromWorker{Kind: wire.KindExtend, Seq: m.Seq, Extend: d})
	return nil
}

// wireError describes err, an attempt's error, for the parent: with the
// registered errors it matches, and what Permanent or Snooze asked.
func wireError(err error) *wire.Error {
	if sn, ok := errors.AsType[*failure.Snooze](err); ok {
		e := &wire.Error{Type: "snooze", Message: sn.Error(), Snooze: true, SnoozeFor: sn.For}
		if !sn.At.IsZero() {
			e.SnoozeAt = sn.At.UnixNano()
		}
		return e
	}
	_, permanent := errors.AsType[*failure.Permanent](err)
	if p, ok := err.(*failure.Permanent); ok {
		err = p.Err // described as what it wraps, as in the parent
	}
	r := failure.Describe(err)
	return &wire.Error{Type: r.Type, Message: r.Message, Stack: r.Stack, Permanent: permanent, Matches: failure.Matches(err)}
}

// wireNext is what the perpetual run of ctx asked of its next run, for the
// parent; nil for nothing.
func wireNext(ctx *taskctx.Ctx, task Task) *wire.Next {
	n := ctx.TakeNext()
	if n == nil {
		return nil
	}
	m := &wire.Next{Stop: n.Stop}
	if !n.At.IsZero() {
		m.At = n.At.UnixNano()
	}
	if n.HasArgs {
		b, err := task.EncodeArgs(n.Args)
		if err != nil {
			ctx.Logger().Error("localtasks: the next argument set by SetNextArgs cannot be sent to the parent: the next run keeps this one's", "error", err)
		} else {
			m.Args, m.SetArgs = b, true
		}
	}
	return m
}

// call finds the task, decodes the argument and runs the task, with what
// carrier holds extracted into its ctx if the worker has a propagator,
// turning a panic (the propagator's too) into an error.
func (w *worker) call(tctx *taskctx.Ctx, m wire.ToWorker, carrier map[string]string) (task Task, val any, err error) {
	task, ok := w.lookup(m.Task)
	if !ok {
		return nil, nil, fmt.Errorf("task %q is not defined in the worker process: define tasks at package level "+
			"(var T = localtasks.Define(...)), not in a function or only on some code path of main, "+
			"so that every process of the program defines them before main runs", m.Task)
	}
	args, err := task.DecodeArgs(m.Args)
	if err != nil {
		return task, nil, keepPanic(fmt.Errorf("decoding the argument of task %q: %w", m.Task, err))
	}
	defer failure.Catch(&err)
	ctx := context.Context(tctx)
	if carrier != nil && w.extract != nil {
		ctx = w.extract(ctx, carrier)
	}
	val, err = task.Call(ctx, args)
	return task, val, err
}

// keepPanic returns err, which may wrap a panic of a type's own encoding or
// decoding method, as a panic with its stack if it does, as the attempt's
// error: the parent shows it as it shows a task's panic.
func keepPanic(err error) error {
	if p, ok := errors.AsType[*gobcodec.PanicError](err); ok {
		return &failure.Recovered{Value: err, Stack: p.Stack}
	}
	return err
}

// pending reports whether a received run waits to start.
func (w *worker) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) > 0
}

// send writes a log, progress or recalled message and asks the flusher to
// send it soon: what a long run logs reaches the parent while it runs, and
// messages written meanwhile go out in the same system call.
func (w *worker) send(m wire.FromWorker) {
	w.omu.Lock()
	defer w.omu.Unlock()
	w.sendLocked(m)
}

// sendLocked is send. Must hold w.omu. The current run's started message,
// written before, goes out with this one: soon, or at once if it fills the
// buffer (a long line does), which then flushes itself. So the run counts
// as reported from here, and its done goes out before another starts.
func (w *worker) sendLocked(m wire.FromWorker) {
	w.writeOrFail(m)
	if w.cur != 0 {
		w.reported = true
	}
	w.flushSoon()
}

func (w *worker) flushSoon() {
	select {
	case w.flushes <- struct{}{}:
	default: // a flush is already due
	}
}

// writeOrFail writes m, or exits if the parent is gone. A message too
// large for a frame is not the parent's loss: a result fails its run, and a
// log record or progress message too long is cut to fit (wire.Fit).
func (w *worker) writeOrFail(m wire.FromWorker) {
	err := w.out.WriteFromWorker(&m)
	if errors.Is(err, wire.ErrFrameTooLarge) {
		switch m.Kind {
		case wire.KindDone:
			m.Value, m.Err = nil, &wire.Error{Type: "*localtasks.frameError", Message: err.Error()}
			if m.Next != nil {
				m.Next.Args, m.Next.SetArgs = nil, false // the next run keeps this one's
			}
			err = w.out.WriteFromWorker(&m)
		case wire.KindLog, wire.KindProgress:
			wire.Fit(&m, w.limit)
			err = w.out.WriteFromWorker(&m)
		}
	}
	if err != nil {
		exit(ExitFailed, err)
	}
}

func (w *worker) flusher() {
	for range w.flushes {
		w.omu.Lock()
		w.flushLocked()
		w.omu.Unlock()
	}
}
