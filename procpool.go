package localtasks

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/child"
	"github.com/localtasks/localtasks/internal/osproc"
	"github.com/localtasks/localtasks/internal/wire"
)

// Defaults of ProcessPoolConfig.
const (
	// ProcessPoolCancelGraceDefault is how long a cancelled task without
	// a timeout may take to return before its worker is killed, and the
	// most a task with a timeout gets by default: see
	// ProcessPoolConfig.CancelGrace.
	ProcessPoolCancelGraceDefault = 5 * time.Second
	// ProcessPoolCancelGraceMin is the least grace a task with a timeout
	// gets by default: see ProcessPoolConfig.CancelGrace.
	ProcessPoolCancelGraceMin = 100 * time.Millisecond
	// ProcessPoolStartTimeoutDefault is how long a new worker may take to
	// reach Init.
	ProcessPoolStartTimeoutDefault = 10 * time.Second
	// ProcessPoolMaxFrameBytesDefault bounds a message between the parent
	// and a worker: an argument or a result, gob-encoded.
	ProcessPoolMaxFrameBytesDefault = 64 << 20
	// ProcessPoolNiceDefault is how much lower than the parent's the
	// workers' scheduling priority is, as a niceness increment: the most
	// there is, so that CPU work in the workers does not slow the parent's
	// request handlers.
	ProcessPoolNiceDefault = 19
	// ProcessPoolNiceParent, as ProcessPoolConfig.Nice, keeps the workers
	// at the parent's scheduling priority.
	ProcessPoolNiceParent = -1
	// ProcessPoolLivenessTimeoutDefault is how long a worker with tasks in
	// flight may send nothing before it is killed.
	ProcessPoolLivenessTimeoutDefault = 30 * time.Second
)

// livenessTimeoutMin is the shortest LivenessTimeout: a worker sends a
// heartbeat every fifth of it, and must be scheduled to.
const livenessTimeoutMin = 100 * time.Millisecond

// ProcessPoolConfig configures a ProcessPoolBackend.
type ProcessPoolConfig struct {
	Config
	// MaxWorkers is the number of worker processes. Defaults to
	// runtime.NumCPU(). SetMaxWorkers changes it while the pool runs.
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
	// Nice is how much lower than the parent's the workers' scheduling
	// priority is: a niceness increment from 1 to 19 over the parent's own
	// niceness, capped at the lowest priority (niceness 19), so that a
	// worker is never favoured over the parent. Defaults to
	// ProcessPoolNiceDefault (19); ProcessPoolNiceParent keeps the parent's
	// priority. Under Linux's autogroup scheduling, niceness orders threads
	// within the program's session only: other programs' load still takes
	// its share of the cores.
	Nice int
	// CancelGrace is how long a task may take to return once its ctx is
	// cancelled (by Cancel, its timeout or Close) before its worker is
	// killed, with the processes the task started that stayed in the
	// worker's process group. Zero (the default) scales it to the run's
	// timeout: a quarter of it, at least ProcessPoolCancelGraceMin (100
	// ms) and at most ProcessPoolCancelGraceDefault (5 s), which is also
	// the grace of a run without a timeout. So a runaway loop under a 200
	// ms timeout fails after 300 ms, not 5.2 s: a task that returns when
	// its ctx ends does so in microseconds to milliseconds, and a run that
	// is ending FAILED or CANCELLED anyway loses nothing to the kill but
	// its worker, which is replaced in milliseconds; the floor leaves room
	// for a worker at the lowest priority (Nice) on a busy machine to be
	// scheduled. A positive CancelGrace is the grace of every run.
	CancelGrace time.Duration
	// StartTimeout is how long a new worker may take to reach Init.
	// Defaults to ProcessPoolStartTimeoutDefault.
	StartTimeout time.Duration
	// MaxFrameBytes bounds each message to or from a worker, and so each
	// argument and result, gob-encoded. Defaults to ProcessPoolMaxFrameBytesDefault.
	MaxFrameBytes int
	// LivenessTimeout is how long a worker that has tasks in flight may
	// send the parent nothing before it is killed, and its running task
	// fails with a *WorkerExitError that says so. A worker sends a
	// heartbeat every fifth of it while a task runs, whatever the task
	// does, so only a worker that is wedged, stopped (SIGSTOP, a
	// debugger), or whose stream broke off inside a message stays silent so
	// long. It does not bound a task's run time: WithTimeout does. At least
	// 100 ms. Defaults to ProcessPoolLivenessTimeoutDefault (30 s).
	LivenessTimeout time.Duration
	// Env is added to the workers' environment, which is the parent's.
	Env []string
	// WorkerInit, if set, is run once in each worker process, after Init
	// and before the worker takes tasks: see DefineWorkerInit. If it fails
	// in a worker, NewProcessPool returns a *WorkerInitError. Defaults to
	// none.
	WorkerInit *WorkerInit
}

// procSettings are the settings of a process pool that backends of one
// Name must agree on, beyond settings.
type procSettings struct {
	window, maxTasks, nice, frame int
	mem                           int64
	grace, start, liveness        time.Duration
	env, init                     string
}

// withDefaults returns a copy of cfg with every default applied.
func (cfg ProcessPoolConfig) withDefaults() ProcessPoolConfig {
	cfg.Config = cfg.Config.withDefaults()
	cfg.MaxWorkers = cmp.Or(cfg.MaxWorkers, runtime.NumCPU())
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, ProcessPoolStartTimeoutDefault)
	cfg.MaxFrameBytes = cmp.Or(cfg.MaxFrameBytes, ProcessPoolMaxFrameBytesDefault)
	cfg.LivenessTimeout = cmp.Or(cfg.LivenessTimeout, ProcessPoolLivenessTimeoutDefault)
	cfg.Nice = cmp.Or(cfg.Nice, ProcessPoolNiceDefault)
	return cfg
}

// validate checks cfg, as withDefaults returned it.
func (cfg ProcessPoolConfig) validate() error {
	bad := func(format string, args ...any) error { return configError("procpool", format, args...) }
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
	case cfg.Nice != ProcessPoolNiceParent && (cfg.Nice < 1 || cfg.Nice > 19):
		return bad("Nice %d is out of range: use 1 to 19 (how much lower than the parent's priority; 0 for the default of %d), "+
			"or ProcessPoolNiceParent for the parent's", cfg.Nice, ProcessPoolNiceDefault)
	case cfg.CancelGrace < 0 || cfg.StartTimeout < 0:
		return bad("CancelGrace and StartTimeout must not be negative")
	case cfg.MaxFrameBytes < 0:
		return bad("MaxFrameBytes %d is negative: use 0 for the default of %d", cfg.MaxFrameBytes, ProcessPoolMaxFrameBytesDefault)
	case cfg.MaxFrameBytes < 64<<10:
		return bad("MaxFrameBytes %d is below 64 KiB, too small for the protocol's own messages", cfg.MaxFrameBytes)
	case cfg.LivenessTimeout < livenessTimeoutMin:
		return bad("LivenessTimeout %v is below %v: use 0 for the default of %v",
			cfg.LivenessTimeout, livenessTimeoutMin, ProcessPoolLivenessTimeoutDefault)
	}
	if err := checkWorkerInit(cfg.WorkerInit); err != nil {
		return err
	}
	return cfg.Config.validate("procpool")
}

// ProcessPoolBackend runs tasks in worker processes: the program's own
// binary, re-executed, kept alive between tasks, for CPU-bound work that
// should not compete with the parent's goroutines for its heap or stall it
// in a GC. It is the Go counterpart of django-tasks-local's
// ProcessPoolBackend, without its weaknesses: a worker that dies fails only
// the task it ran and is replaced; a task is RUNNING only once its worker
// says it started it; timeouts and Cancel stop even a task that ignores its
// ctx, by killing its worker after a grace period. Each worker leads a
// process group of its own, which dies with it: the programs a task starts
// die with its worker, unless they leave the group (SysProcAttr Setsid or
// Setpgid; see docs/process-pool.md).
//
// The program must call Init first thing in main. Arguments and results
// cross the process boundary gob-encoded: they must be gob-encodable
// (exported fields, no funcs or chans), which Enqueue checks.
type ProcessPoolBackend struct {
	holder
}

var _ Controller = (*ProcessPoolBackend)(nil)

// NewProcessPool starts a ProcessPoolBackend's worker processes and waits
// until each has reached Init, or joins the state of the backends already
// built under cfg.Name. It fails within StartTimeout if a worker never
// reaches Init.
func NewProcessPool(cfg ProcessPoolConfig) (*ProcessPoolBackend, error) {
	if err := osproc.Supported(); err != nil {
		return nil, err
	}
	if _, ok := os.LookupEnv(wire.SpecEnv); ok {
		// Building a pool in a worker, before Init, would start workers
		// of workers without end.
		return nil, fmt.Errorf("localtasks: NewProcessPool was called in a worker process before localtasks.Init(): " +
			"call Init first thing in main, and build process pools after it, not in an init function or a package variable")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("localtasks: procpool: finding the program's binary to start workers from: %w", err)
	}
	st := settings{kind: "procpool", workers: cfg.MaxWorkers, cfg: cfg.Config,
		extra: procSettings{window: cfg.Window, maxTasks: cfg.MaxTasksPerWorker, nice: cfg.Nice, frame: cfg.MaxFrameBytes,
			mem: cfg.MemoryLimit, grace: cfg.CancelGrace, start: cfg.StartTimeout, liveness: cfg.LivenessTimeout,
			env: fmt.Sprint(cfg.Env), init: initName(cfg.WorkerInit)}}
	s, err := open(st, modeProcess, poolCapabilities, func(s *state) error {
		spec := wire.Spec{Version: wire.Version, FrameLimit: cfg.MaxFrameBytes, MemLimit: cfg.MemoryLimit, Nice: max(cfg.Nice, 0),
			Heartbeat: cfg.LivenessTimeout / 5, Init: initName(cfg.WorkerInit)}
		p := &procPool{s: s, cfg: cfg, exe: exe, log: s.logger,
			closing: make(chan struct{}), killed: make(chan struct{}), resized: make(chan struct{}), spec: spec.String(), suspects: make(map[*record]struct{})}
		// Under the lock: runs taken back from a journal may be on the
		// timer already, whose push reads s.proc.
		s.mu.Lock()
		s.proc = p
		s.mu.Unlock()
		if err := s.proc.start(); err != nil {
			return err
		}
		return s.startAutomatic()
	})
	if err != nil {
		return nil, err
	}
	return &ProcessPoolBackend{holder{s: s}}, nil
}

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
	markInit()
	spec, ok := os.LookupEnv(wire.SpecEnv)
	if !ok {
		return
	}
	os.Unsetenv(wire.SpecEnv) // a process the task starts is not a worker
	child.Serve(spec, func(name string) (child.Task, bool) {
		def, ok := Lookup(name)
		if !ok {
			return nil, false
		}
		return childTask{def}, true
	}, runWorkerInit, workerExtract)
}

// checkTask reports why def cannot run on the pool's workers, whatever its
// argument: it was defined after Init, so the workers do not know it, or
// its types cannot cross to them (Definition.checkCodec, checked once a
// task). An error matching ErrInvalidTask.
func (p *procPool) checkTask(def Definition) error {
	if def.definedAfterInit() {
		return fmt.Errorf("localtasks: enqueue %q: the task was defined at %s, after localtasks.Init() ran, so the worker processes, "+
			"which run no more of main than Init, do not define it: define it at package level (var T = localtasks.Define(...)); "+
			"nothing was queued: %w", def.Name(), def.definedAt(), ErrInvalidTask)
	}
	if err := def.checkCodec(); err != nil {
		return fmt.Errorf("%w; a process pool sends each argument and result to its workers gob-encoded: "+
			"change the type, or run the task on a thread pool; nothing was queued", err)
	}
	return nil
}

// graceFor is how long a run whose timeout is timeout (0 for none) may
// take to return once cancelled before its worker is killed: see
// ProcessPoolConfig.CancelGrace.
func (p *procPool) graceFor(timeout time.Duration) time.Duration {
	switch {
	case p.cfg.CancelGrace > 0:
		return p.cfg.CancelGrace
	case timeout <= 0:
		return ProcessPoolCancelGraceDefault
	}
	return min(ProcessPoolCancelGraceDefault, max(ProcessPoolCancelGraceMin, timeout/4))
}

// childTask is a Definition as the worker program (internal/child) sees it.
type childTask struct{ Definition }

func (t childTask) EncodeArgs(args any) ([]byte, error) { return t.encodeArgs(args) }
func (t childTask) DecodeArgs(b []byte) (any, error)    { return t.decodeArgs(b) }
func (t childTask) EncodeResult(v any) ([]byte, error)  { return t.encodeResult(v) }

// procPool is a state's set of worker processes: MaxWorkers slots (or as
// many as SetMaxWorkers set), each running one worker process at a time
// and replacing it when it dies or retires, until the pool closes or
// SetMaxWorkers retires the slot.
type procPool struct {
	s    *state
	cfg  ProcessPoolConfig
	exe  string
	spec string
	log  *slog.Logger

	closing chan struct{} // closed when the pool starts closing
	killed  chan struct{} // closed by killAll: a worker being started is killed too
	// resized is closed, and replaced, when SetMaxWorkers retires slots:
	// it wakes the slots waiting to try a start again. Guarded by state.mu.
	resized chan struct{}

	held int // dispatchers waiting for an idle worker to take a run first; guarded by state.mu
	// READY runs that were in a worker that died while the parent knew
	// none of its runs to be running: each runs alone, eagerly reported.
	// Guarded by state.mu.
	suspects map[*record]struct{}

	testRecalled  func(*record)  // a test's signal: a worker gave back a run it had not started; called under state.mu
	testReplacing func(slot int) // a test's hook: a slot is about to start a replacement worker; set before any worker dies

	mu      sync.Mutex    // taken after state.mu; see state for the lock order
	workers []*procWorker // alive, in the order they started: a slice, as the dispatch looks at them all often
}

// start spawns every slot's first worker, all at once, and runs the slots.
func (p *procPool) start() error {
	n := p.cfg.MaxWorkers
	p.s.workers = n
	p.s.slotLive = make([]bool, n)
	for i := range n {
		p.s.slotLive[i] = true
	}
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
				p.s.leave(i)
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

// runSlot keeps a worker process running in slot i, starting with w (nil:
// none yet, for a slot SetMaxWorkers added), until the pool closes or
// SetMaxWorkers retires the slot.
func (p *procPool) runSlot(i int, w *procWorker) {
	for {
		if w != nil {
			w.serve()
		}
		if w = p.respawn(i, w != nil); w == nil {
			return
		}
	}
}

// respawn starts slot i's next worker, trying again after a growing wait
// while starting fails, and returns it; or it leaves the slot and returns
// nil once the pool closes or SetMaxWorkers has retired the slot. A worker
// that follows another is a replacement (replacing).
func (p *procPool) respawn(i int, replacing bool) *procWorker {
	s := p.s
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		s.mu.Lock()
		resized := p.resized
		s.mu.Unlock()
		if s.leave(i) {
			return nil
		}
		if replacing && p.testReplacing != nil {
			p.testReplacing(i)
		}
		w, err := p.spawn(i)
		if err == nil {
			if replacing {
				s.mu.Lock()
				s.counters.WorkerRestarts++
				s.lastWorkerRestart = s.clock.Now()
				s.mu.Unlock()
			}
			return w
		}
		p.log.Error("localtasks: starting a worker process", "slot", i, "replacing", replacing, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.closing:
		case <-resized:
		}
		t.Stop()
	}
}

// retire makes the workers of slots n and up take no more runs, and asks
// them for the runs sent to them that they have not started, which go back
// to the head of their lines (the recall): each worker then ends the run
// it has, its dispatcher stops and closes its input (maybeShut), and it
// exits and is reaped as a worker that MaxTasksPerWorker retires, and its
// slot ends with it (respawn). The caller wakes the dispatchers for that;
// a worker being started meanwhile retires as its dispatcher starts
// (dispatch). Must hold s.mu.
func (p *procPool) retire(n int) {
	close(p.resized)
	p.resized = make(chan struct{})
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		if w.slot >= n && !w.retiring && !w.gone {
			w.retiring = true
			p.s.recall(w)
		}
	}
}

// slotName names slot i: its workers' IDs are the name, then "/pid-N".
func (p *procPool) slotName(i int) string {
	return fmt.Sprintf("procpool:%s/%d", cmp.Or(p.s.name, "private"), i)
}

// killAll kills every worker process, and those being started, with their
// process groups; the slots reap them.
func (p *procPool) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.killed:
	default:
		close(p.killed)
	}
	for _, w := range p.workers {
		w.signal()
	}
}
