package localtasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/wire"
)

// Defaults of ProcessPoolConfig.
const (
	// ProcessPoolCancelGraceDefault is how long a cancelled or timed-out
	// task may take to return before its worker is killed.
	ProcessPoolCancelGraceDefault = 5 * time.Second
	// ProcessPoolStartTimeoutDefault is how long a new worker may take to
	// reach Init.
	ProcessPoolStartTimeoutDefault = 10 * time.Second
	// ProcessPoolMaxFrameDefault bounds a message between the parent and a
	// worker: an argument or a result, gob-encoded.
	ProcessPoolMaxFrameDefault = 64 << 20
)

// ProcessPoolConfig configures a ProcessPoolBackend.
type ProcessPoolConfig struct {
	Config
	// MaxWorkers is the number of worker processes. Defaults to
	// runtime.NumCPU().
	MaxWorkers int
	// Window is how many tasks are in flight to each worker at most: the
	// running one and those sent to wait in it. Zero (the default) sizes it
	// to the tasks: from 2 up to 64, so that about a millisecond of work
	// waits in each worker, as the tasks' recent run time says; enough to
	// hide the round trip to a worker for tasks of microseconds, and little
	// enough that priority order holds within a millisecond.
	Window int
	// MaxTasksPerWorker replaces a worker after it has finished that many
	// tasks, to bound what leaks in it. Zero means never.
	MaxTasksPerWorker int
	// MemoryLimit bounds each worker's memory, in bytes: the Go runtime's
	// soft limit (as GOMEMLIMIT) at 90% of it, and a hard limit at it,
	// checked after every garbage collection. A worker over the hard limit
	// exits, and its task fails with an error matching ErrMemoryLimit. Zero
	// means no limit. Workers need about 16 MiB to start.
	MemoryLimit int64
	// Nice is the scheduling niceness of the workers, from 0 to 19, so that
	// CPU work does not starve the parent's request handlers. Zero keeps
	// the parent's.
	Nice int
	// CancelGrace is how long a task may take to return once its ctx is
	// cancelled (by Cancel, its timeout or Close) before its worker is
	// killed. Defaults to ProcessPoolCancelGraceDefault.
	CancelGrace time.Duration
	// StartTimeout is how long a new worker may take to reach Init.
	// Defaults to ProcessPoolStartTimeoutDefault.
	StartTimeout time.Duration
	// MaxFrameBytes bounds each message to or from a worker, and so each
	// argument and result, gob-encoded. Defaults to ProcessPoolMaxFrameDefault.
	MaxFrameBytes int
	// Env is added to the workers' environment, which is the parent's.
	Env []string
}

// procSettings are the settings of a process pool that backends of one
// Name must agree on, beyond settings.
type procSettings struct {
	window, maxTasks, nice, frame int
	mem                           int64
	grace, start                  time.Duration
	env                           string
}

func (cfg ProcessPoolConfig) withDefaults() (ProcessPoolConfig, error) {
	bad := func(format string, args ...any) (ProcessPoolConfig, error) {
		return cfg, fmt.Errorf("localtasks: procpool config: "+format+": %w", append(args, ErrConfig)...)
	}
	switch {
	case cfg.MaxWorkers < 0:
		return bad("MaxWorkers %d is negative: use 0 for one a CPU (%d)", cfg.MaxWorkers, runtime.NumCPU())
	case cfg.Window < 0:
		return bad("Window %d is negative: use 0 to size it to the tasks", cfg.Window)
	case cfg.MaxTasksPerWorker < 0:
		return bad("MaxTasksPerWorker %d is negative: use 0 for no limit", cfg.MaxTasksPerWorker)
	case cfg.MemoryLimit < 0:
		return bad("MemoryLimit %d is negative: use 0 for no limit", cfg.MemoryLimit)
	case cfg.MemoryLimit > 0 && cfg.MemoryLimit < 16<<20:
		return bad("MemoryLimit %d bytes is below the 16 MiB a worker needs to start", cfg.MemoryLimit)
	case cfg.Nice < 0 || cfg.Nice > 19:
		return bad("Nice %d is out of range: use 0 (the parent's) to 19 (the lowest priority)", cfg.Nice)
	case cfg.CancelGrace < 0 || cfg.StartTimeout < 0:
		return bad("CancelGrace and StartTimeout must not be negative")
	case cfg.MaxFrameBytes < 0:
		return bad("MaxFrameBytes %d is negative: use 0 for the default of %d", cfg.MaxFrameBytes, ProcessPoolMaxFrameDefault)
	case cfg.MaxFrameBytes > 0 && cfg.MaxFrameBytes < 64<<10:
		return bad("MaxFrameBytes %d is below 64 KiB, too small for the protocol's own messages", cfg.MaxFrameBytes)
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = runtime.NumCPU()
	}
	if cfg.CancelGrace == 0 {
		cfg.CancelGrace = ProcessPoolCancelGraceDefault
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = ProcessPoolStartTimeoutDefault
	}
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = ProcessPoolMaxFrameDefault
	}
	return cfg, nil
}

// ProcessPoolBackend runs tasks in worker processes: the program's own
// binary, re-executed, kept alive between tasks, for CPU-bound work that
// should not compete with the parent's goroutines for its heap or stall it
// in a GC. It is the Go counterpart of django-tasks-local's
// ProcessPoolBackend, without its weaknesses: a worker that dies fails only
// the task it ran and is replaced; a task is RUNNING only once its worker
// says it started it; timeouts and Cancel stop even a task that ignores its
// ctx, by killing its worker after a grace period.
//
// The program must call Init first thing in main. Arguments and results
// cross the process boundary gob-encoded: they must be gob-encodable
// (exported fields, no funcs or chans), which Enqueue checks.
type ProcessPoolBackend struct {
	holder
}

var _ Backend = (*ProcessPoolBackend)(nil)

var processPoolCapabilities = Capabilities{Defer: true, Priority: true, GetResult: true, Cancel: true, CancelRunning: true, Retry: true, Timeout: true, Limits: true, Perpetual: true}

// NewProcessPool starts a ProcessPoolBackend's worker processes and waits
// until each has reached Init, or joins the state of the backends already
// built under cfg.Name. It fails within StartTimeout if a worker never
// reaches Init.
func NewProcessPool(cfg ProcessPoolConfig) (*ProcessPoolBackend, error) {
	if err := processPoolSupported(); err != nil {
		return nil, err
	}
	if _, ok := os.LookupEnv(workerEnv); ok {
		// Building a pool in a worker, before Init, would start workers
		// of workers without end.
		return nil, fmt.Errorf("localtasks: NewProcessPool was called in a worker process before localtasks.Init(): " +
			"call Init first thing in main, and build process pools after it, not in an init function or a package variable")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	st, err := cfg.settings("procpool", cfg.MaxWorkers)
	if err != nil {
		return nil, err
	}
	st.extra = procSettings{window: cfg.Window, maxTasks: cfg.MaxTasksPerWorker, nice: cfg.Nice, frame: cfg.MaxFrameBytes,
		mem: cfg.MemoryLimit, grace: cfg.CancelGrace, start: cfg.StartTimeout, env: fmt.Sprint(cfg.Env)}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("localtasks: procpool: finding the program's binary to start workers from: %w", err)
	}
	s, err := openState(cfg.Name, st, func() (*state, error) {
		s := newState(cfg.Name, st, modeProcess, processPoolCapabilities)
		p := &procPool{s: s, cfg: cfg, exe: exe, log: s.logger, workers: make(map[*procWorker]struct{}),
			closing: make(chan struct{}),
			spec:    workerSpec{version: wire.Version, frameLimit: cfg.MaxFrameBytes, memLimit: cfg.MemoryLimit, nice: cfg.Nice}.String()}
		s.proc = p
		if err := p.start(); err != nil {
			return s, err
		}
		return s, s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &ProcessPoolBackend{holder{s: s}}, nil
}

// start spawns every slot's first worker, all at once, and runs the slots.
func (p *procPool) start() error {
	n := p.cfg.MaxWorkers
	workers := make([]*procWorker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { workers[i], errs[i] = p.spawn(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, w := range workers {
			if w != nil {
				w.kill("the pool failed to start")
			}
		}
		// Let the slots reap them; with no task in flight they end at once.
		p.s.running = n
		p.s.closing = true
		close(p.closing)
		for i, w := range workers {
			if w != nil {
				go p.runSlot(i, w)
			} else {
				p.s.workerExited()
			}
		}
		<-p.s.stopped
		return errs[slices.IndexFunc(errs, func(e error) bool { return e != nil })]
	}
	p.s.running = n
	for i, w := range workers {
		go p.runSlot(i, w)
	}
	return nil
}

// runSlot keeps a worker process running in slot i until the pool closes.
func (p *procPool) runSlot(i int, w *procWorker) {
	defer p.s.workerExited()
	for {
		w.serve()
		for wait := 10 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			select {
			case <-p.closing:
				return
			default:
			}
			var err error
			if w, err = p.spawn(i); err == nil {
				break
			}
			p.log.Error("localtasks: starting a replacement worker process", "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.closing:
				t.Stop()
				return
			}
		}
	}
}

// stopTaking makes every worker take no more tasks, cancels the tasks they
// were sent and had not started, and ends the input of those with nothing
// in flight. Must hold s.mu.
func (p *procPool) stopTaking(now time.Time) {
	select {
	case <-p.closing:
	default:
		close(p.closing)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.workers {
		w.retiring = true
		for _, rec := range w.inflight {
			if rec.status == StatusReady {
				rec.extra().cancelReason = "the backend closed before the task started"
				rec.run.cancel(context.Canceled, ErrClosed)
				p.s.finalize(rec, StatusCancelled, now, false)
			}
		}
		p.s.maybeShut(w)
	}
}

// killAll kills every worker process; the slots reap them.
func (p *procPool) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.workers {
		w.cmd.Process.Kill()
	}
}

// dispatch blocks until a ready record is there and hands it to w: it stays
// READY until w says it started it. It returns nil once w takes no more.
func (s *state) dispatch(w *procWorker) (rec *record, seq uint64, perpetual bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if w.retiring || w.gone || s.closing {
			// A worker started while the pool was closing (a replacement)
			// missed stopTaking: it retires here.
			w.retiring = true
			w.dispatched = true
			s.maybeShut(w)
			return nil, 0, false
		}
		// A worker with a task in flight takes another only while no
		// worker is idle: a task waiting behind a long one on one worker
		// while another idles would be worse than the round trip saved.
		if len(w.inflight) >= w.window || len(w.inflight) > 0 && s.proc.otherIdle(w) {
			s.cond.Wait()
			continue
		}
		if rec, ok := s.ready.Pop(); ok {
			if rec.status != StatusReady {
				continue
			}
			if (rec.x != nil || len(s.strikes) > 0) && !s.admit(rec, s.clock.Now()) {
				continue
			}
			w.seq++
			rec.run = &remoteAttempt{w: w, seq: w.seq}
			w.inflight[w.seq] = rec
			if s.testDispatched != nil {
				s.testDispatched(rec)
			}
			return rec, w.seq, rec.x != nil && rec.x.perp != nil
		}
		s.idle++
		s.cond.Wait()
		s.idle--
	}
}

// otherIdle reports whether a live worker other than w has nothing in
// flight. Must hold s.mu.
func (p *procPool) otherIdle(w *procWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for o := range p.workers {
		if o != w && !o.retiring && !o.gone && len(o.inflight) == 0 {
			return true
		}
	}
	return false
}

// Bounds of an adaptive window, and the work it aims to hold.
const (
	minWindow    = 2
	maxWindow    = 64
	windowBudget = time.Millisecond
)

// sized takes a run's duration into w's average, and sizes w's window to
// hold about windowBudget of work, if the pool's Window is adaptive. Must
// hold s.mu.
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
		n = int(windowBudget / w.runTime)
	}
	w.window = min(max(n, minWindow), maxWindow)
}

// maybeShut ends w's input once it takes no more tasks and has none in
// flight: the worker reads EOF and exits. Must hold s.mu.
func (s *state) maybeShut(w *procWorker) {
	if w.retiring && w.dispatched && len(w.inflight) == 0 && !w.inputShut {
		w.inputShut = true
		w.closeOutbox()
	}
}

// remoteStarted marks the run w started RUNNING.
func (s *state) remoteStarted(w *procWorker, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := w.inflight[seq]
	if rec == nil {
		return
	}
	a, ours := rec.run.(*remoteAttempt)
	if !ours || a.w != w {
		return
	}
	a.begin()
	w.startedAt[seq] = time.Now()
	if rec.status != StatusReady {
		// Cancelled while on its way: the worker has the cancel, and its
		// grace starts now.
		a.mu.Lock()
		cause := a.cause
		a.cause = nil
		a.mu.Unlock()
		if cause != nil {
			a.cancel(context.Canceled, cause)
		}
		return
	}
	now := s.clock.Now()
	s.start(rec, w.name, now, a)
	if mw := s.set.middleware; len(mw) > 0 {
		a.ctx = &taskCtx{id: rec.id, task: rec.def.Name(), attempt: int(rec.attempts), base: s.logger}
		if d := rec.timeout; d > 0 {
			a.ctx.deadline = now.Add(d)
		}
		a.result = make(chan remoteResult, 1)
		go s.superviseRemote(rec, a)
	}
}

// superviseRemote runs the middleware chain around a remote attempt, in the
// parent: the chain starts when the worker reports the start, its innermost
// next returns the worker's outcome, and what the chain returns settles the
// run. A middleware that returns without calling next cancels the attempt.
// There is one such goroutine a running task, so at most one a worker.
func (s *state) superviseRemote(rec *record, a *remoteAttempt) {
	var res remoteResult
	ran := false
	next := func(ctx context.Context) error {
		res, ran = <-a.result, true
		return res.err
	}
	err := s.chain(a.ctx, rec, next)
	if !ran {
		a.cancel(context.Canceled, ErrCancelled)
		res = <-a.result // wait for the worker to let go of it
	}
	a.ctx.end()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.status == StatusRunning && rec.run == attempt(a) {
		s.settle(rec, res.timedOut, res.val, err, s.clock.Now(), false)
	}
}

// remoteDone settles the run w finished, or hands its outcome to the
// middleware chain that settles it.
func (s *state) remoteDone(w *procWorker, m wire.FromWorker) {
	s.mu.Lock()
	rec := w.inflight[m.Seq]
	if rec == nil {
		s.mu.Unlock()
		return
	}
	delete(w.inflight, m.Seq)
	a, ours := rec.run.(*remoteAttempt)
	ours = ours && a.w == w && a.seq == m.Seq
	if ours && m.Next != nil && rec.x != nil && rec.x.perp != nil {
		rec.x.perp.next.merge(s.remoteNext(rec, m.Next))
	}
	supervised := ours && a.result != nil
	running := ours && !supervised && rec.status == StatusRunning
	if ours && !supervised && !running {
		rec.run = nil
		if rec.status == StatusReady { // the worker dropped it without a cancel: queue it again
			s.ready.PushFront(int(rec.priority), rec)
		}
	}
	if t, ok := w.startedAt[m.Seq]; ok {
		delete(w.startedAt, m.Seq)
		w.sized(time.Since(t))
	}
	s.mu.Unlock()

	var res remoteResult
	if supervised || running {
		res.timedOut = a.end()
		if m.Err != nil {
			res.err = &remoteError{typ: m.Err.Type, msg: m.Err.Message, stack: m.Err.Stack}
		} else if res.val, res.err = rec.def.decodeResult(m.Value); res.err != nil {
			res.err = fmt.Errorf("decoding its result in the parent: %w", res.err)
		}
	}
	if supervised {
		a.result <- res
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if running && rec.status == StatusRunning && rec.run == attempt(a) {
		s.settle(rec, res.timedOut, res.val, res.err, s.clock.Now(), false)
	}
	if supervised || running {
		w.finished++
		if n := s.proc.cfg.MaxTasksPerWorker; n > 0 && w.finished >= n && !w.retiring {
			w.retiring = true // its dispatcher stops; the slot starts a fresh worker
		}
	}
	s.maybeShut(w)
	s.cond.Broadcast() // w has a free place, and may be idle
}

// remoteProgress records a progress report of the run w has as m.Seq.
func (s *state) remoteProgress(w *procWorker, m wire.FromWorker) {
	s.mu.Lock()
	rec := w.inflight[m.Seq]
	var run attempt
	if rec != nil {
		run = rec.run
	}
	s.mu.Unlock()
	if a, ok := run.(*remoteAttempt); ok && a.w == w && a.seq == m.Seq {
		s.setProgress(rec, a, m.Done, m.Total, m.Line) // if it still runs that attempt
	}
}

// inflightRun returns the ID and task of the run w has as seq, if any.
// remoteNext decodes what a worker's perpetual run asked of its next run.
func (s *state) remoteNext(rec *record, m *wire.Next) *nextRun {
	n := &nextRun{stop: m.Stop}
	if m.At != 0 {
		n.at = time.Unix(0, m.At)
	}
	if m.SetArgs {
		args, err := rec.def.decodeArgs(m.Args)
		if err != nil {
			s.logger.Error("localtasks: a perpetual task's next argument from its worker cannot be decoded: the next run keeps this one's",
				"task", rec.def.Name(), "task_id", rec.id, "error", err)
			return n
		}
		n.args, n.hasArgs, n.payload = args, true, m.Args
	}
	return n
}

func (s *state) inflightRun(w *procWorker, seq uint64) (id, task string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := w.inflight[seq]; rec != nil {
		return rec.id, rec.def.Name()
	}
	return "", ""
}

// runningOn returns the ID and task of the run w has started, if any.
func (s *state) runningOn(w *procWorker) (id, task string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range w.inflight {
		if rec.status == StatusRunning {
			if a, ok := rec.run.(*remoteAttempt); ok && a.w == w {
				return rec.id, rec.def.Name()
			}
		}
	}
	return "", ""
}

// remoteError is an attempt's error as a worker reported it.
type remoteError struct{ typ, msg, stack string }

func (e *remoteError) Error() string { return e.msg }
