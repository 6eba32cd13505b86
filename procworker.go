package localtasks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/localtasks/localtasks/internal/child"
	"github.com/localtasks/localtasks/internal/osproc"
	"github.com/localtasks/localtasks/internal/wire"
)

// procWorker is the parent's handle on one worker process. Its inflight
// map and flags are guarded by state.mu.
type procWorker struct {
	p    *procPool
	slot int
	name string // its ID in TaskResult.WorkerIDs
	cmd  *exec.Cmd
	pid  int
	// propagates: its hello said it has a worker propagator
	// (SetWorkerPropagator), to extract the runs' carriers with. Set
	// before its dispatcher starts.
	propagates bool

	in      *wire.Reader
	inPipe  *osproc.ExitReader // the worker's messages, under in
	outPipe *os.File
	out     *wire.Writer

	// Whether the process is known to have exited: from then on its
	// process group is not signalled, since the group's ID, the worker's
	// PID, is another process's to take once the worker is reaped.
	gmu   sync.Mutex
	ended bool

	// For the liveness check (watch): the messages read, and whether the
	// frame reader waits for one (rather than handling one).
	heard   atomic.Uint64
	waiting atomic.Bool

	// The outbox: messages to send, by whichever goroutine comes to it
	// first (flushOutbox), or by the writer goroutine.
	omu     sync.Mutex // guards the outbox; a leaf, taken under state.mu
	ocond   sync.Cond
	outbox  []wire.ToWorker
	oclosed bool
	writing bool            // a goroutine is sending the outbox: it sends what comes meanwhile too
	sending []wire.ToWorker // the batch being sent, kept for reuse; owned by the goroutine writing
	wfailed bool            // a write failed: the worker is being killed

	// Guarded by state.mu.
	seq        uint64
	inflight   map[uint64]*record // dispatched to it, not finished
	window     int                // how many it may have in flight now
	runTime    time.Duration      // its runs' recent duration, on average
	alone      uint64             // a suspect's seq while it runs here alone; 0 for none
	started    uint64             // the seq of the run it reported started and not done; 0 for none
	recalled   map[uint64]bool    // the runs asked back (recall), not answered or done yet
	stalled    bool               // runs were recalled from behind its running run: it takes none until that ends
	finished   int                // tasks it ran to the end
	retiring   bool               // take no more tasks: recycled, or the pool closes
	gone       bool               // the process has exited
	dispatched bool               // its dispatcher has stopped
	inputShut  bool
	killedFor  string // why the parent killed it, if it did

	// What reached its real stderr: a crash report, mostly (the worker
	// captures its tasks' stderr). Kept for the error when it dies: the
	// report's first lines name the crash, its last lines end it.
	stderrMu   sync.Mutex
	stderrHead []string
	stderrTail []string
	stderrMore bool // lines were dropped between head and tail

	outputs    [2]*osproc.ExitReader // its stdout and stderr; forward closes them
	exited     chan struct{}         // closed once the process has exited
	readerDone chan struct{}
	watchDone  chan struct{}
	dispDone   chan struct{}
	writerDone chan struct{}
	outputDone sync.WaitGroup // the stdout and stderr readers
}

// Bounds of an adaptive window, and the work it aims to hold.
const (
	minWindow    = 2
	maxWindow    = 64
	windowBudget = time.Millisecond
)

// sized takes a run's duration into w's average, and sizes w's window to
// hold the running run and about windowBudget of work waiting behind it,
// if the pool's Window is adaptive. Must hold s.mu.
func (w *procWorker) sized(d time.Duration) {
	if w.runTime == 0 {
		w.runTime = d
	} else {
		w.runTime += (d - w.runTime) / 8
	}
	if w.p.cfg.Window != 0 {
		return
	}
	n := maxWindow
	if w.runTime > 0 {
		// The running one counts apart: a worker reports lazily, when the
		// last waiting run starts (child.execute), so what waits behind it
		// is what spares a round trip to the parent per run.
		n = 1 + int(windowBudget/w.runTime)
	}
	w.window = min(max(n, minWindow), maxWindow)
}

// spawn starts a worker process for slot and waits for it to reach Init.
func (p *procPool) spawn(slot int) (*procWorker, error) {
	cmd := exec.Command(p.exe, os.Args[1:]...)
	toChild, fromChild, outR, errR, closeChild, err := osproc.Pipes(cmd)
	if err != nil {
		return nil, fmt.Errorf("localtasks: starting a worker process: %w", err)
	}
	cmd.Env = workerEnv(append(append(os.Environ(), p.cfg.Env...), wire.SpecEnv+"="+p.spec), raceBuild)
	cmd.SysProcAttr = osproc.SysProcAttr()
	if err := cmd.Start(); err != nil {
		closeChild()
		toChild.Close()
		fromChild.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("localtasks: starting worker process %s: %w", p.exe, err)
	}
	closeChild()
	w := &procWorker{
		p: p, slot: slot, cmd: cmd, pid: cmd.Process.Pid,
		inPipe:   osproc.NewExitReader(fromChild),
		outPipe:  toChild,
		out:      wire.NewWriter(toChild, p.cfg.MaxFrameBytes),
		outputs:  [2]*osproc.ExitReader{osproc.NewExitReader(outR), osproc.NewExitReader(errR)},
		inflight: make(map[uint64]*record),
		window:   p.cfg.Window,
	}
	w.in = wire.NewReader(w.inPipe, p.cfg.MaxFrameBytes)
	if w.window == 0 {
		w.window = minWindow
	}
	w.name = fmt.Sprintf("%s/pid-%d", p.slotName(slot), w.pid)
	w.ocond.L = &w.omu
	w.exited, w.readerDone, w.dispDone, w.writerDone = make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	w.watchDone = make(chan struct{})
	w.outputDone.Add(2)
	go w.forward(w.outputs[0], "stdout")
	go w.forward(w.outputs[1], "stderr")

	hello := make(chan error, 1)
	go func() {
		var m wire.FromWorker
		err := w.in.ReadFromWorker(&m)
		switch {
		case err != nil:
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				err = &helloError{fmt.Sprintf("what it sent on the pool's pipe is no worker's hello (%v)", err)}
			}
		case m.Kind != wire.KindHello:
			err = &helloError{fmt.Sprintf("its first message on the pool's pipe was of kind %d, not a worker's hello", m.Kind)}
		case m.Version != wire.Version:
			err = &helloError{fmt.Sprintf("it speaks protocol version %d, the parent %d: the program's binary was replaced "+
				"since the parent started (by a deploy or a build?); restart the program", m.Version, wire.Version)}
		case m.Err != nil && p.cfg.WorkerInit == nil:
			err = &helloError{fmt.Sprintf("its hello reported a failed worker initialiser (%s), but the pool has no WorkerInit", m.Err.Message)}
		case m.Err != nil:
			err = &WorkerInitError{Name: initName(p.cfg.WorkerInit), PID: w.pid, Type: m.Err.Type, Message: m.Err.Message, Stack: m.Err.Stack}
		}
		w.propagates = err == nil && m.Propagates
		hello <- err
		if err == nil {
			w.read()
		} else {
			close(w.readerDone)
		}
	}()
	timer := time.NewTimer(p.cfg.StartTimeout)
	defer timer.Stop()
	var timedOut, closed bool
	select {
	case err = <-hello:
	case <-timer.C:
		timedOut = true
	case <-p.killed:
		closed = true
	}
	if err != nil || timedOut || closed {
		w.signal()
		state := w.reap()
		<-w.readerDone
		w.waitOutput()
		w.inPipe.Close()
		toChild.Close()
		return nil, w.startError(err, state, timedOut, closed)
	}
	p.mu.Lock()
	p.workers = append(p.workers, w)
	p.mu.Unlock()
	go w.write()
	go w.dispatch()
	go w.watch()
	return w, nil
}

// post queues a message for the writer goroutine, and wakes it; it never
// blocks.
func (w *procWorker) post(m wire.ToWorker) {
	w.omu.Lock()
	defer w.omu.Unlock()
	if w.oclosed {
		return
	}
	w.outbox = append(w.outbox, m)
	if !w.writing {
		w.ocond.Signal()
	}
}

// queue queues a message that the caller sends with flushOutbox once it
// has released state.mu: the dispatcher and the reader send the runs they
// hand out themselves, with no writer goroutine to wake. It never blocks.
func (w *procWorker) queue(m wire.ToWorker) {
	w.omu.Lock()
	defer w.omu.Unlock()
	if !w.oclosed {
		w.outbox = append(w.outbox, m)
	}
}

// flushOutbox sends what the outbox holds, unless another goroutine is
// sending it (which then sends this too). It may block on the pipe: never
// call it holding state.mu.
func (w *procWorker) flushOutbox() {
	w.omu.Lock()
	if w.writing || w.wfailed || len(w.outbox) == 0 {
		w.omu.Unlock()
		return
	}
	w.writing = true
	w.omu.Unlock()
	w.send()
}

// closeOutbox makes the writer send what is queued, then end the stream.
func (w *procWorker) closeOutbox() {
	w.omu.Lock()
	defer w.omu.Unlock()
	w.oclosed = true
	w.ocond.Signal()
}

// send sends the outbox's messages, a batch a system call, until it is
// empty, then clears w.writing, which the caller set.
func (w *procWorker) send() {
	batch := w.sending
	for {
		w.omu.Lock()
		if len(w.outbox) == 0 || w.wfailed {
			w.writing = false
			if w.oclosed || w.wfailed {
				w.ocond.Signal() // the writer goroutine ends the stream
			}
			w.sending = batch
			w.omu.Unlock()
			return
		}
		batch, w.outbox = w.outbox, batch[:0]
		w.omu.Unlock()
		if err := w.sendBatch(batch); err != nil {
			w.omu.Lock()
			w.wfailed = true
			w.omu.Unlock()
			w.kill(fmt.Sprintf("writing to it failed: %v", err))
		}
		clear(batch)
	}
}

// sendBatch encodes the batch's messages and flushes them.
func (w *procWorker) sendBatch(batch []wire.ToWorker) error {
	for i := range batch {
		m := &batch[i]
		if err := w.out.WriteToWorker(m); err != nil {
			if errors.Is(err, wire.ErrFrameTooLarge) {
				// Enqueue checked the argument's size against the
				// same limit; only a race with a smaller limit gets
				// here. The worker answers nothing: fail the run.
				w.p.s.remoteDone(w, wire.FromWorker{Kind: wire.KindDone, Seq: m.Seq,
					Err: &wire.Error{Type: "*wire.frameError", Message: err.Error()}})
				continue
			}
			return err
		}
	}
	return w.out.Flush()
}

// write is the writer goroutine: it sends what post queued, and ends the
// stream once the outbox is closed and sent.
func (w *procWorker) write() {
	defer close(w.writerDone)
	defer w.outPipe.Close() // the worker reads EOF, and ends
	for {
		w.omu.Lock()
		for w.writing || len(w.outbox) == 0 && !w.oclosed && !w.wfailed {
			w.ocond.Wait()
		}
		if w.wfailed || w.oclosed && len(w.outbox) == 0 {
			w.omu.Unlock()
			return
		}
		w.writing = true
		w.omu.Unlock()
		w.send()
	}
}

// dispatch hands ready tasks to the worker, as many as its window holds.
func (w *procWorker) dispatch() {
	defer close(w.dispDone)
	for w.p.s.dispatch(w) {
		w.flushOutbox()
	}
}

// maxBatch bounds the messages read handles in one remoteApply.
const maxBatch = 256

// read handles the worker's messages until its stream ends. Started and
// done messages are applied in batches: every such message the reader's
// buffer holds, at once (remoteApply); a log or progress message is handled
// in its turn, after those before it.
func (w *procWorker) read() {
	defer close(w.readerDone)
	batch := make([]wire.FromWorker, 0, 16)
	var fin []remoteFinish
	apply := func() {
		if len(batch) > 0 {
			fin = w.p.s.remoteApply(w, batch, fin)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		batch = append(batch, wire.FromWorker{})
		m := &batch[len(batch)-1]
		w.waiting.Store(true)
		err := w.readMessage(m)
		w.waiting.Store(false)
		w.heard.Add(1)
		if err != nil {
			batch = batch[:len(batch)-1]
			apply()
			if !errors.Is(err, io.EOF) {
				w.kill(fmt.Sprintf("it sent a bad message: %v", err))
			}
			return
		}
		switch m.Kind {
		case wire.KindStarted, wire.KindDone, wire.KindRecalled:
			if !w.in.Buffered() || len(batch) >= maxBatch {
				apply()
			}
			continue
		}
		other := *m
		batch = batch[:len(batch)-1]
		apply()
		switch other.Kind {
		case wire.KindLog:
			w.logRecord(other)
		case wire.KindProgress:
			w.p.s.remoteProgress(w, other)
		case wire.KindMetadata:
			w.p.s.remoteMetadata(w, other)
		case wire.KindExtend:
			w.p.s.remoteExtend(w, other)
		}
	}
}

// readMessage reads the worker's next message into m. A panic decoding it
// is the worker's bad message, not the parent's end: the frames come from
// another process, which may be hostile.
func (w *procWorker) readMessage(m *wire.FromWorker) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("decoding its message panicked: %v", v)
		}
	}()
	return w.in.ReadFromWorker(m)
}

// logRecord passes a task's log record, or a line it printed, to the pool's
// logger. A record carries its task's attributes from Logger(ctx); a line
// is tagged here with the run the worker says printed it.
func (w *procWorker) logRecord(m wire.FromWorker) {
	attrs := make([]slog.Attr, 0, len(m.Attrs)+4)
	for _, a := range m.Attrs {
		attrs = append(attrs, slog.String(a.Key, a.Value))
	}
	var id, task string
	if m.Seq != 0 {
		id, task = w.p.s.remoteLog(w, &m)
	}
	if m.Stream != "log" {
		attrs = append(attrs, slog.String("stream", m.Stream))
		if id != "" {
			attrs = append(attrs, slog.String("task", task), slog.String("task_id", id))
		}
	}
	attrs = append(attrs, slog.String("worker", w.name))
	w.p.log.LogAttrs(context.Background(), slog.Level(m.Level), m.Line, attrs...)
}

// forward passes what reaches the worker's real stdout and stderr to the
// pool's logger, a line a record: the worker captures its tasks' output
// itself, so this is what bypasses that, a runtime crash report above all,
// tagged with the run the worker had started when the line came.
//
// A line longer than its buffer (64 KiB) goes in parts, each but the last
// marked wire.LineContinues: it never stops the reading, which would leave
// the worker's next write to a closed pipe, and kill it.
func (w *procWorker) forward(r *osproc.ExitReader, stream string) {
	defer w.outputDone.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	var carry []byte // the start of a character that a part's end cut in two
	for {
		chunk, err := br.ReadSlice('\n')
		part := append(carry, chunk...)
		carry = nil
		var line string
		switch {
		case err == nil:
			line = strings.TrimSuffix(string(part[:len(part)-1]), "\r")
		case errors.Is(err, bufio.ErrBufferFull):
			k := wire.Cut(part, len(part))
			carry = append(carry, part[k:]...)
			line = string(part[:k]) + wire.LineContinues
		case len(part) == 0:
			return
		default: // the last line, with no newline
			line = string(part)
		}
		w.forwardLine(stream, line)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// forwardLine logs a line that reached the worker's real stdout or stderr.
func (w *procWorker) forwardLine(stream, line string) {
	if stream == "stderr" {
		w.keepStderr(line)
	}
	attrs := []slog.Attr{slog.String("stream", stream), slog.String("worker", w.name)}
	if id, task := w.p.s.runningOn(w); id != "" {
		attrs = append(attrs, slog.String("task", task), slog.String("task_id", id))
	}
	level := slog.LevelInfo
	if stream == "stderr" {
		level = slog.LevelWarn // a crash report, mostly: tasks' own stderr is captured
	}
	w.p.log.LogAttrs(context.Background(), level, line, attrs...)
}

// waitOutput waits for the stdout and stderr readers, which end soon after
// reap: they read what the pipes hold, and stop, even if a process the task
// started still holds their write ends.
func (w *procWorker) waitOutput() { w.outputDone.Wait() }

const stderrHeadLines, stderrTailLines = 12, 8

func (w *procWorker) keepStderr(line string) {
	w.stderrMu.Lock()
	defer w.stderrMu.Unlock()
	if len(w.stderrHead) < stderrHeadLines {
		w.stderrHead = append(w.stderrHead, line)
		return
	}
	w.stderrTail = append(w.stderrTail, line)
	if len(w.stderrTail) > stderrTailLines {
		w.stderrTail = w.stderrTail[1:]
		w.stderrMore = true
	}
}

func (w *procWorker) tailText() string {
	w.stderrMu.Lock()
	defer w.stderrMu.Unlock()
	if len(w.stderrHead) == 0 {
		return ""
	}
	lines := w.stderrHead
	if w.stderrMore {
		lines = append(append(lines[:len(lines):len(lines)], "..."), w.stderrTail...)
	} else {
		lines = append(lines[:len(lines):len(lines)], w.stderrTail...)
	}
	return "; its stderr said:\n\t" + strings.Join(lines, "\n\t")
}

// kill ends the worker process at once, for why, and with it the processes
// its tasks started that stayed in its process group.
func (w *procWorker) kill(why string) {
	w.gmu.Lock()
	ended := w.ended
	w.gmu.Unlock()
	if ended {
		return // it ended of itself: a failed write or a cut stream is not why
	}
	s := w.p.s
	s.mu.Lock()
	if w.killedFor == "" {
		w.killedFor = why
	}
	s.mu.Unlock()
	w.signal()
}

// signal sends SIGKILL to the worker's process group, the worker and what
// its tasks started that stayed in it, unless the worker has ended.
func (w *procWorker) signal() {
	w.gmu.Lock()
	defer w.gmu.Unlock()
	if w.ended {
		return
	}
	if osproc.KillGroup(w.pid) != nil {
		w.cmd.Process.Kill() // the worker itself at least
	}
}

// reap waits for the worker process to exit, kills what is left of its
// process group, and reaps it; then it tells the pipe readers that no more
// is coming. A task's descendants that stayed in the worker's process group
// die with it, whatever ended it: a timeout, a cancel, a crash, Close, or a
// clean exit. One that must live on leaves the group (SysProcAttr Setsid or
// Setpgid).
//
// The worker's end is known from its exit, not from EOF on its pipes: a
// process the task started may hold their write ends for as long as it
// lives.
func (w *procWorker) reap() *os.ProcessState {
	if osproc.WaitExited(w.pid) {
		// A zombie now: its PID, and so its group's ID, is still its
		// own. The group is swept before the PID is given up.
		w.gmu.Lock()
		osproc.KillGroup(w.pid)
		w.ended = true
		w.gmu.Unlock()
	}
	state, _ := w.cmd.Process.Wait()
	w.gmu.Lock()
	w.ended = true
	w.gmu.Unlock()
	w.inPipe.Exited()
	for _, r := range w.outputs {
		r.Exited()
	}
	// A write waiting on a pipe that nobody reads (a descendant of the
	// worker holds its read end) fails at once.
	w.outPipe.SetWriteDeadline(time.Unix(1, 0))
	return state
}

// watch is the worker's liveness check: it kills the worker if it sends
// nothing for LivenessTimeout while it has runs in flight. A worker sends a
// heartbeat every fifth of that while a run goes (internal/child), so only
// one that is wedged, stopped, or stuck inside a frame stays silent so long;
// its death then settles its runs as any other. An idle worker is expected
// to say nothing, and a frame reader busy with a message (a slow logger) is
// not the worker's silence.
//
// It samples, a quarter of the timeout apart, the count of messages read:
// the reader pays two atomic stores a message, and no clock read.
func (w *procWorker) watch() {
	defer close(w.watchDone)
	limit := w.p.cfg.LivenessTimeout
	t := time.NewTicker(limit / 4)
	defer t.Stop()
	s := w.p.s
	quiet := time.Now() // when the silence began, as far as the samples tell
	var heard uint64
	for {
		var now time.Time
		select {
		case <-w.exited:
			return
		case now = <-t.C:
		}
		s.mu.Lock()
		busy := len(w.inflight) > 0
		s.mu.Unlock()
		n := w.heard.Load()
		if !busy || n != heard || !w.waiting.Load() {
			quiet, heard = now, n
			continue
		}
		if d := now.Sub(quiet); d > limit {
			w.kill(fmt.Sprintf("it sent nothing for %v while it had tasks in flight: it is wedged, stopped, "+
				"or its stream is stuck inside a message (ProcessPoolConfig.LivenessTimeout is %v)",
				d.Round(time.Millisecond), limit))
			return
		}
	}
}

// killIfStill kills the worker if attempt a is still running on it: the
// grace after its cancellation is over.
func (w *procWorker) killIfStill(a *remoteAttempt) {
	s := w.p.s
	s.mu.Lock()
	rec := w.inflight[a.seq]
	still := rec != nil && rec.run == attempt(a)
	s.mu.Unlock()
	if still {
		w.kill(fmt.Sprintf("a cancelled task did not return within the grace of %v", a.graceDur))
	}
}

// serve runs the worker until its process has exited and everything about
// it is settled: its running task failed, its dispatched ones queued again.
func (w *procWorker) serve() {
	state := w.reap()
	close(w.exited)
	w.waitOutput()
	<-w.readerDone
	w.inPipe.Close() // now, not when a GC finds the file
	<-w.watchDone
	s := w.p.s
	cause := w.deathError(state)
	s.mu.Lock()
	w.gone = true
	now := s.clock.Now()
	// Workers report lazily (child.execute): if the parent knew a run to
	// be running, that run died, and the others never started; if not,
	// any of the runs sent may have run, finished unreported, or died, so
	// each becomes a suspect, re-run alone (fill). Runs may so run twice:
	// delivery is at least once.
	known := false
	for _, rec := range w.inflight {
		if a, ours := rec.run.(*remoteAttempt); ours && a.w == w && a.isStarted() {
			known = true
		}
	}
	for seq, rec := range w.inflight {
		delete(w.inflight, seq)
		a, ours := rec.run.(*remoteAttempt)
		if !ours || a.w != w {
			continue
		}
		if a.result != nil { // the middleware chain settles it
			a.result <- remoteResult{err: cause, timedOut: a.end()}
			continue
		}
		switch rec.status {
		case StatusRunning:
			s.settle(rec, nil, judge(rec, a.end(), cause), now, false) // a Decide runs under s.mu here: worker deaths are rare
		case StatusReady: // sent, not known to have started: it goes back to the head of its line
			s.requeue(rec)
			if !known {
				s.proc.suspects[rec] = struct{}{}
			}
		}
	}
	w.retiring = true
	s.cond.Broadcast() // its dispatcher stops; others take what it had
	s.mu.Unlock()
	w.closeOutbox()
	<-w.dispDone
	<-w.writerDone
	w.p.mu.Lock()
	w.p.workers = slices.DeleteFunc(w.p.workers, func(o *procWorker) bool { return o == w })
	w.p.mu.Unlock()
}

// deathError describes the worker's exit, for the task it was running.
func (w *procWorker) deathError(state *os.ProcessState) error {
	s := w.p.s
	s.mu.Lock()
	killedFor := w.killedFor
	s.mu.Unlock()
	e := &WorkerExitError{PID: w.pid, ExitCode: -1, Stderr: w.tailText()}
	if state != nil {
		e.ExitCode = state.ExitCode()
		if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal().String()
		}
	}
	e.KilledBecause = killedFor
	e.MemoryLimit = w.p.cfg.MemoryLimit > 0 && (e.ExitCode == child.ExitMemoryLimit || strings.Contains(e.Stderr, "out of memory"))
	if e.MemoryLimit {
		e.Limit = w.p.cfg.MemoryLimit
	}
	return e
}
