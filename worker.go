package localtasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/wire"
)

// workerEnv is set in the environment of a worker process: its value is
// the worker's settings (see workerSpec).
const workerEnv = "LOCALTASKS_WORKER"

// The descriptors a worker inherits: the parent's messages on 3, its own on 4.
const (
	workerInFD  = 3
	workerOutFD = 4
)

// Init turns the process into a process-pool worker when the parent started
// it as one, and returns at once otherwise. Call it first thing in main, and
// in TestMain of tests that use a ProcessPoolBackend:
//
//	func main() {
//		localtasks.Init()
//		...
//	}
//
// A ProcessPoolBackend re-executes the program's own binary for its workers;
// in a worker, Init serves tasks and never returns, so nothing after it runs
// there. Tasks must be defined at package level, so that the worker, which
// runs no more of main than Init, knows them.
func Init() {
	spec, ok := os.LookupEnv(workerEnv)
	if !ok {
		return
	}
	os.Unsetenv(workerEnv) // a process the task starts is not a worker
	os.Exit(serveWorker(spec))
}

// workerSpec is what the parent tells a worker, in workerEnv.
type workerSpec struct {
	version    int
	frameLimit int
	memLimit   int64
	nice       int
}

func (w workerSpec) String() string {
	return fmt.Sprintf("v=%d;frame=%d;mem=%d;nice=%d", w.version, w.frameLimit, w.memLimit, w.nice)
}

func parseWorkerSpec(s string) (workerSpec, error) {
	var w workerSpec
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return w, fmt.Errorf("bad %s in %q", k, s)
		}
		switch k {
		case "v":
			w.version = int(n)
		case "frame":
			w.frameLimit = int(n)
		case "mem":
			w.memLimit = n
		case "nice":
			w.nice = int(n)
		}
	}
	if w.version != wire.Version {
		return w, fmt.Errorf("protocol version %d, this binary speaks %d", w.version, wire.Version)
	}
	return w, nil
}

// serveWorker runs tasks for the parent until it closes the stream, and
// returns the exit code.
func serveWorker(specText string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "localtasks worker: %v\n", err)
		return 3
	}
	spec, err := parseWorkerSpec(specText)
	if err != nil {
		return fail(err)
	}
	if err := limitWorker(spec); err != nil {
		return fail(err)
	}
	if spec.memLimit > 0 {
		watchMemory(spec.memLimit)
	}
	in := os.NewFile(workerInFD, "localtasks-in")
	out := os.NewFile(workerOutFD, "localtasks-out")
	if in == nil || out == nil {
		return fail(errors.New("started without the pipes of a process-pool worker"))
	}
	w := &worker{
		out:     wire.NewWriter(out, spec.frameLimit),
		flushes: make(chan struct{}, 1),
		runs:    make(map[uint64]*workerRun),
	}
	w.cond.L = &w.mu
	if err := w.out.Write(wire.FromWorker{Kind: wire.KindHello, PID: os.Getpid(), Version: wire.Version}); err != nil {
		return fail(err)
	}
	if err := w.out.Flush(); err != nil {
		return fail(err)
	}
	if err := w.startCapture(); err != nil {
		return fail(fmt.Errorf("capturing the output of tasks: %w", err))
	}
	go w.flusher()
	go w.read(wire.NewReader(in, spec.frameLimit))
	w.execute()
	w.out.Flush()
	return 0
}

// worker is the worker process's side of the protocol.
type worker struct {
	out     *wire.Writer
	flushes chan struct{} // asks flusher to flush out

	// omu orders output: the captured lines of a run go out between its
	// started and done messages.
	omu      sync.Mutex
	cur      uint64 // the run executing, 0 between runs; guarded by omu
	captures []*capture

	mu     sync.Mutex
	cond   sync.Cond
	queue  []*workerRun          // received, not started, in order
	runs   map[uint64]*workerRun // received, not finished
	closed bool                  // the parent closed its stream
}

type workerRun struct {
	msg       wire.ToWorker
	ctx       *taskCtx // while running
	cancelled bool     // before it started
}

// read receives the parent's messages until its stream ends.
func (w *worker) read(r *wire.Reader) {
	for {
		var m wire.ToWorker
		err := r.Read(&m)
		w.mu.Lock()
		if err != nil {
			// The parent closed the stream, or died: finish what runs, and
			// stop. A running task's ctx is cancelled if the parent is gone
			// for another reason than a clean close.
			w.closed = true
			if !errors.Is(err, io.EOF) {
				for _, run := range w.runs {
					if run.ctx != nil {
						run.ctx.cancel(context.Canceled, ErrClosed)
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
					err, cause := context.Canceled, error(ErrCancelled)
					switch {
					case m.TimedOut:
						err, cause = context.DeadlineExceeded, &timeoutError{after: m.Timeout}
					case m.Closing:
						cause = ErrClosed
					}
					run.ctx.cancel(err, cause)
				} else {
					run.cancelled = true
				}
			}
		}
		w.mu.Unlock()
	}
}

// next returns the next run to execute, or nil when the parent is done.
func (w *worker) next() *workerRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 {
		if w.closed {
			return nil
		}
		w.cond.Wait()
	}
	run := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	return run
}

// execute runs the received tasks one at a time.
func (w *worker) execute() {
	for {
		run := w.next()
		if run == nil {
			return
		}
		done := w.runOne(run)
		w.omu.Lock()
		w.settleOutputLocked() // the run's output goes out before its done message
		w.cur = 0
		// With a run waiting, a later flush takes this one along.
		w.write(done, !w.pending())
		w.omu.Unlock()
	}
}

func (w *worker) runOne(run *workerRun) wire.FromWorker {
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
	ctx := &taskCtx{id: m.ID, task: m.Task, attempt: m.Attempt, perpetual: m.Perpetual}
	if m.Timeout > 0 { // informative: the parent enforces it, from the start it is told of
		ctx.deadline = time.Now().Add(m.Timeout)
	}
	ctx.base = slog.New(&forwardHandler{w: w, seq: m.Seq})
	ctx.report = func(done, total int64, message string) {
		w.send(wire.FromWorker{Kind: wire.KindProgress, Seq: m.Seq, Done: done, Total: total, Line: message})
	}
	run.ctx = ctx
	w.mu.Unlock()
	w.omu.Lock()
	w.settleOutputLocked() // output from before the run is not the run's
	w.cur = m.Seq
	// Flushed before the run starts, with the previous run's done message
	// (one system call for both): the parent then knows, whatever this run
	// does, that the previous one ended and that this one is the one
	// running. A run that calls os.Exit, or a kill, cannot take another
	// run's result down with it, nor have its death blamed on another run.
	w.write(wire.FromWorker{Kind: wire.KindStarted, Seq: m.Seq}, true)
	w.omu.Unlock()

	val, err := w.call(ctx, m)
	ctx.cancel(context.Canceled, nil)
	if err == nil {
		def, _ := Lookup(m.Task)
		done.Value, err = def.encodeResult(val)
		if err != nil {
			err = fmt.Errorf("its %T result cannot be sent to the parent: %w", val, err)
		}
	}
	if err != nil {
		done.Err = wireError(err)
	}
	if m.Perpetual {
		done.Next = wireNext(ctx, m.Task)
	}
	return done
}

// wireNext is what the perpetual run of ctx asked of its next run, for the
// parent; nil for nothing.
func wireNext(ctx *taskCtx, task string) *wire.Next {
	n := ctx.takeNext()
	if n == nil {
		return nil
	}
	m := &wire.Next{Stop: n.stop}
	if !n.at.IsZero() {
		m.At = n.at.UnixNano()
	}
	if n.hasArgs {
		def, _ := Lookup(task)
		b, err := def.encodeArgs(n.args)
		if err != nil {
			Logger(ctx).Error("localtasks: the next argument set by SetNextArgs cannot be sent to the parent: the next run keeps this one's", "error", err)
		} else {
			m.Args, m.SetArgs = b, true
		}
	}
	return m
}

// call decodes the argument and runs the task, turning a panic into an error.
func (w *worker) call(ctx *taskCtx, m wire.ToWorker) (val any, err error) {
	def, ok := Lookup(m.Task)
	if !ok {
		return nil, fmt.Errorf("task %q is not defined in the worker process: define tasks at package level "+
			"(var T = localtasks.Define(...)), not in a function or only on some code path of main, "+
			"so that every process of the program defines them before main runs", m.Task)
	}
	args, err := def.decodeArgs(m.Args)
	if err != nil {
		return nil, fmt.Errorf("decoding the argument of task %q: %w", m.Task, err)
	}
	defer func() {
		if v := recover(); v != nil {
			val, err = nil, &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return def.Call(ctx, args)
}

func wireError(err error) *wire.Error {
	var p *panicError
	if errors.As(err, &p) {
		return &wire.Error{Type: fmt.Sprintf("%T", p.value), Message: fmt.Sprint(p.value), Stack: p.stack}
	}
	return &wire.Error{Type: fmt.Sprintf("%T", err), Message: err.Error()}
}

// pending reports whether a received run waits to start.
func (w *worker) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) > 0
}

// write sends a message now, with what is buffered, if flush; else it
// stays buffered until the next flush.
func (w *worker) write(m wire.FromWorker, flush bool) {
	w.writeOrFail(m)
	if flush {
		if err := w.out.Flush(); err != nil {
			os.Exit(3) // the parent is gone
		}
	}
}

// send writes a log message and asks the flusher to send it soon: what a
// long run logs reaches the parent while it runs, and messages written
// meanwhile go out in the same system call.
func (w *worker) send(m wire.FromWorker) {
	w.writeOrFail(m)
	w.flushSoon()
}

func (w *worker) flushSoon() {
	select {
	case w.flushes <- struct{}{}:
	default: // a flush is already due
	}
}

func (w *worker) writeOrFail(m wire.FromWorker) {
	if err := w.out.Write(m); err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) && m.Kind == wire.KindDone {
			m.Value, m.Err = nil, &wire.Error{Type: "*localtasks.frameError", Message: err.Error()}
			w.out.Write(m)
		} else {
			fmt.Fprintf(os.Stderr, "localtasks worker: %v\n", err)
			os.Exit(3)
		}
	}
}

func (w *worker) flusher() {
	for range w.flushes {
		if err := w.out.Flush(); err != nil {
			os.Exit(3) // the parent is gone
		}
	}
}

// forwardHandler sends a task's log records to the parent.
type forwardHandler struct {
	w     *worker
	seq   uint64
	attrs []wire.Attr
	group string
}

func (h *forwardHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *forwardHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]wire.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.group, a)
		return true
	})
	h.w.send(wire.FromWorker{Kind: wire.KindLog, Seq: h.seq, Stream: "log", Level: int(r.Level), Line: r.Message, Attrs: attrs})
	return nil
}

func (h *forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]wire.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.group, a)
	}
	return &c
}

func (h *forwardHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func appendAttr(dst []wire.Attr, prefix string, a slog.Attr) []wire.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			dst = appendAttr(dst, prefix+a.Key+".", g)
		}
		return dst
	}
	return append(dst, wire.Attr{Key: prefix + a.Key, Value: v.String()})
}
