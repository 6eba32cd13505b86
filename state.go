package localtasks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/localtasks/localtasks/internal/pqueue"
	"github.com/localtasks/localtasks/internal/taskctx"
	"github.com/localtasks/localtasks/internal/timeheap"
)

// mode says how a state runs its tasks.
type mode uint8

const (
	modePool    mode = iota // workers take tasks from the ready queue
	modeInline              // Enqueue runs the task in the caller's goroutine
	modeRecord              // nothing runs
	modeProcess             // worker processes take tasks from the ready queue
)

// poolCapabilities are the two pools': everything.
var poolCapabilities = Capabilities{Defer: true, Priority: true, GetResult: true, Cancel: true, CancelRunning: true,
	Retry: true, Timeout: true, ExtendTimeout: true, Limits: true, Perpetual: true, MaxQueued: true, Pause: true,
	PauseQueues: true, Tags: true, Deadline: true, DiscardResult: true}

// states is the named state registry.
var states = struct {
	sync.Mutex
	m map[string]*state
}{m: make(map[string]*state)}

// open returns the state of a backend of st, with st.cfg's defaults
// applied and checked: the state of that Name if there is one with the same
// settings, else a new state that runs tasks by m, supports caps, and that
// start starts. A private state (no Name) is always new. A state that start
// fails to start is shut down, and never shared. Every constructor calls it.
func open(st settings, m mode, caps Capabilities, start func(*state) error) (*state, error) {
	name := st.cfg.Name
	states.Lock()
	if s, ok := states.m[name]; ok && name != "" {
		defer states.Unlock()
		if d := s.set.differs(st); d != "" {
			return nil, fmt.Errorf("localtasks: a backend named %q already exists and %s: build every backend of one Name with the same configuration, or use another Name: %w",
				name, d, ErrConfig)
		}
		s.holders++
		return s, nil
	}
	s := newState(st, m, caps)
	if s.jr != nil {
		if m != modePool && m != modeProcess {
			states.Unlock()
			return nil, configError(st.kind, "a Journal is for the thread and process pools, which queue runs: leave it out")
		}
		if name == "" {
			states.Unlock()
			return nil, configError(st.kind, "a Journal needs a Name: a journal holds the runs of one named backend, "+
				"which a backend built again under that Name resumes: give the backend a Name")
		}
		if err := s.restoreJournal(context.Background()); err != nil {
			states.Unlock()
			return nil, err
		}
	}
	if err := start(s); err != nil {
		states.Unlock()
		s.shutdown(context.Background())
		return nil, err
	}
	s.holders = 1
	if name != "" {
		states.m[name] = s
	}
	states.Unlock()
	return s, nil
}

// release drops one holder of s, and shuts s down when it was the last.
func release(ctx context.Context, s *state) error {
	states.Lock()
	s.holders--
	last := s.holders == 0
	if last && states.m[s.name] == s {
		delete(states.m, s.name)
	}
	states.Unlock()
	if !last {
		return nil
	}
	return s.shutdown(ctx)
}

// shutdown stops the state: see holder.Close. It ends every queued and
// scheduled run CANCELLED, lets the running ones finish until ctx ends, and
// then abandons them; the transitions are lifecycle.go's.
func (s *state) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.closingNow.Store(true)
	if s.jr != nil {
		defer s.jr.finish() // commits what the closing changed
	}
	s.madeRoom()  // enqueues waiting for room give up
	s.takeInbox() // cancelled, as closing is set
	now := s.clock.Now()
	cancel := func(rec *record) {
		if rec.status == StatusReady || rec.status == StatusScheduled {
			s.closeQueued(rec, now)
		}
	}
	s.ready.Drain(cancel)
	if s.proc != nil {
		s.proc.stopTaking(now)
	}
	s.timed.Drain(func(e *timeheap.Entry[*record]) {
		e.Value.x.entry = nil
		cancel(e.Value)
	})
	for _, rec := range s.recorded {
		cancel(rec)
	}
	for _, g := range s.gates {
		for _, rec := range g.waiting {
			cancel(rec)
		}
		g.waiting = nil
	}
	s.drainHeld(cancel)
	s.arm() // stops the timer
	s.stopExpiry()
	s.cond.Broadcast()
	s.mu.Unlock()

	var err error
	select {
	case <-s.stopped:
	case <-ctx.Done():
		all := s.index.all()
		s.mu.Lock()
		n := 0
		now := s.clock.Now()
		for _, rec := range all {
			if rec.status == StatusRunning {
				s.abandon(rec, now)
				n++
			}
		}
		s.mu.Unlock()
		if s.proc != nil { // no worker process outlives Close
			s.proc.killAll()
			<-s.stopped
		}
		err = fmt.Errorf("localtasks: close %s: %d running tasks had not finished and were cancelled: %w", s.set.label(), n, ctx.Err())
	}

	s.events.Close()
	return err
}

// state is what backends of one Name share: the queues, the result store,
// the workers' bookkeeping and the subscribers.
//
// Lock order: states (the registry), then state.mu, then a procPool's mu,
// then a remoteAttempt's mu or a procWorker's omu (its outbox), then the
// events' mu, then results.mu, then an index shard's. A taskctx.Ctx's mu is
// a leaf, taken under state.mu by Cancel and never held while taking
// another. Most paths take one of them at a time; none is held while task
// code runs or a system call blocks.
type state struct {
	name    string
	label   string // set.label(), made once: Enqueue's checks take it
	set     settings
	mode    mode
	caps    Capabilities
	clock   Clock
	epoch   time.Time // the clock when the state opened: records' times are offsets from it
	logger  *slog.Logger
	hooks   taskctx.Hooks // setProgress, setMetadata and extendCtx, for every attempt's ctx
	holders int           // guarded by states

	index   index    // every run the store holds; see store.go
	results *results // the finished ones
	events  broadcaster
	jr      *journaler // nil without a Config.Journal

	// Read without s.mu by Enqueue's lock-free path (post); each is also
	// written under s.mu.
	inbox       atomic.Pointer[record] // runs posted, not yet taken in: a stack linked by record.inbox
	inboxLen    atomic.Int32           // about how many: counted before the push, uncounted as taken in
	idleWorkers atomic.Int32           // idle, as workers count it before they wait
	closingNow  atomic.Bool            // closing, for post
	nstrikes    atomic.Int32           // len(strikes)

	mu       sync.Mutex // guards what follows and the records' fields
	cond     sync.Cond  // signalled when ready gets a task or closing is set
	ready    pqueue.Queue[*record]
	timed    timeheap.Heap[*record]
	timer    Timer // wakes fire for the earliest of timed
	timerAt  time.Time
	timerGen uint64
	idle     int  // workers waiting on cond
	waking   int  // of those, the ones signalled that have not woken yet
	closing  bool // no more tasks taken
	// room is closed, and set to nil, when a queued run leaves the queue
	// while roomWaiters enqueues wait for room (Config.MaxQueued).
	room        chan struct{}
	roomWaiters int
	closed      bool          // shutdown is over
	recorded    []*record     // modeRecord: every run, in enqueue order
	running     int           // workers (or process-pool slots) still in their loop
	stopped     chan struct{} // closed when running drops to zero
	proc        *procPool     // the worker processes, in modeProcess

	flows       []queueFlow          // each queue's, in the order of Config.Queues; see flow.go
	pausedTasks map[string][]*record // the paused tasks, with the runs they hold; see flow.go

	keys       map[keyOf]*record // the unfinished runs with a key
	strikes    []*strikeRule
	gates      map[gateKey]*gate // the groups of runs under a limit
	gatesSweep int               // sweep gates when it has more than this
	chainRuns  map[string]int    // finished runs of perpetual tasks under Config.Test.RunAtMost
	active     int               // unfinished runs
	drained    chan struct{}     // closed when active drops to zero
	counters   Counters
	// lastWorkerRestart is when the process pool last started a worker to
	// replace another (counters.WorkerRestarts); zero if never.
	lastWorkerRestart time.Time
	slotDone          []uint64 // modePool: tasks each worker finished
	// workers is how many workers the pool aims at: MaxWorkers, until
	// SetMaxWorkers changes it (resize.go). The worker of a slot from
	// workers up retires: it ends the run it has, then leaves its slot.
	workers  int
	slotLive []bool // a worker (or a process-pool slot's loop) holds the slot; see leave

	view   view   // counts and recent finishes, for snapshots; see counts.go
	expiry expiry // Config.ResultTTL's queue; see expiry.go

	testDispatched func(*record)  // a test's signal: a run went to a worker
	testPosting    func()         // a test's hook: post is about to push a run
	testRoomWait   func()         // a test's hook: an enqueue is about to wait for room, under s.mu
	testWaiting    func(*record)  // a test's signal: a Wait waits for rec to finish, under s.mu
	testLeft       func(slot int) // a test's signal: a worker (or process-pool slot) left its slot, under s.mu
}

func newState(st settings, m mode, caps Capabilities) *state {
	s := &state{name: st.cfg.Name, label: st.label(), set: st, mode: m, caps: caps, clock: st.cfg.Test.Clock, logger: st.cfg.Logger,
		stopped: make(chan struct{})}
	s.hooks = taskctx.Hooks{
		Report: func(c *taskctx.Ctx, done, total int64, message string) {
			s.setProgress(c.Ref.(*record), c, done, total, message)
		},
		Metadata: s.metadataReport,
		Extend:   s.extendCtx,
		Capture:  s.captureFor,
	}
	s.epoch = s.clock.Now()
	s.cond.L = &s.mu
	dropped := s.view.dropped
	if st.cfg.Journal != nil {
		s.jr = newJournaler(&st.cfg)
		dropped = func(rec *record) {
			s.view.dropped(rec)
			s.jr.forget(rec)
		}
	}
	s.results = newResults(st.cfg.MaxResults, st.cfg.MaxFailedResults, &s.index, dropped)
	s.keys = make(map[keyOf]*record)
	s.flows = newFlows(&st.cfg)
	s.view.queues = make([][unfinishedStatuses]int, len(st.cfg.Queues))
	s.chainRuns = make(map[string]int)
	s.gatesSweep = 64
	return s
}

// emit delivers an event about rec to the subscribers. Must hold s.mu,
// which keeps each task's events in order.
func (s *state) emit(k EventKind, rec *record) {
	if !s.events.Subscribed() {
		return
	}
	s.events.Publish(Event{Kind: k, Result: s.snapshot(rec)})
}

// lookup finds the run with that ID. It takes no lock but an index
// shard's; read the record under s.mu.
func (s *state) lookup(id string) (*record, error) {
	if rec := s.index.get(id); rec != nil {
		return rec, nil
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("localtasks: %q is not a task ID: IDs are the UUIDs Enqueue returns: %w", id, ErrResultNotFound)
	}
	c := &s.set.cfg
	return nil, fmt.Errorf("localtasks: no task %s on %s: the ID is unknown, its result was evicted (MaxResults is %d, MaxFailedResults %d) "+
		"or expired (Config.ResultTTL), or its task keeps no result (WithDiscardResult): %w",
		id, s.set.label(), c.MaxResults, c.MaxFailedResults, ErrResultNotFound)
}

// read snapshots rec and, if it has finished, refreshes its recency in the
// result store: a read counts as a use.
func (s *state) read(rec *record) TaskResult {
	s.mu.Lock()
	res := s.snapshot(rec)
	s.mu.Unlock()
	if res.Status.Finished() {
		s.results.touch(rec)
	}
	return res
}

func (s *state) getResult(ctx context.Context, id string) (TaskResult, error) {
	rec, err := s.lookup(id)
	if err != nil {
		return TaskResult{}, err
	}
	return s.read(rec), nil
}

func (s *state) wait(ctx context.Context, id string) (TaskResult, error) {
	rec, err := s.lookup(id)
	if err != nil {
		return TaskResult{}, err
	}
	s.mu.Lock()
	if rec.status.Finished() {
		res := s.snapshot(rec)
		s.mu.Unlock()
		s.results.touch(rec)
		return res, nil
	}
	if rec.done == nil {
		rec.done = make(chan struct{})
	}
	done := rec.done
	if s.testWaiting != nil {
		s.testWaiting(rec)
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return TaskResult{}, fmt.Errorf("localtasks: waiting for task %s: %w", id, ctx.Err())
	}
	return s.read(rec), nil // from rec itself: it may have left the store already
}

// setProgress records the progress of rec's attempt run, if it still runs.
func (s *state) setProgress(rec *record, run attempt, done, total int64, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.status != StatusRunning || rec.run != run {
		return
	}
	rec.extra().progress = Progress{Done: done, Total: total, Message: message, At: s.clock.Now()}
	rec.changed()
	s.emit(EventProgress, rec)
}

// holder is one backend's hold on a shared state; the backends embed it.
type holder struct {
	s      *state
	closed atomic.Bool
}

// Name returns the name the backend was built under; "" for a private one.
func (h *holder) Name() string { return h.s.name }

// Capabilities says what the backend supports.
func (h *holder) Capabilities() Capabilities { return h.s.caps }

// Enqueue validates a run of task with args and opts, queues it, and
// returns its ID; see Backend.Enqueue.
func (h *holder) Enqueue(ctx context.Context, task Definition, args any, opts Options) (Receipt, error) {
	if h.closed.Load() {
		return Receipt{}, h.s.closedError(task)
	}
	if h.s.set.cfg.Propagator != nil {
		if tctx, end := h.s.traceEnqueue(ctx, task, &opts, 1); end != nil {
			r, err := h.s.enqueue(tctx, task, args, opts)
			if err != nil {
				end(nil, err)
			} else {
				end([]string{r.ID}, nil)
			}
			return r, err
		}
	}
	return h.s.enqueue(ctx, task, args, opts)
}

// GetResult returns a snapshot of the run with that ID; see Backend.GetResult.
func (h *holder) GetResult(ctx context.Context, id string) (TaskResult, error) {
	return h.s.getResult(ctx, id)
}

// Wait blocks until the run with that ID has finished, or ctx ends.
func (h *holder) Wait(ctx context.Context, id string) (TaskResult, error) { return h.s.wait(ctx, id) }

// Cancel cancels the run with that ID; see Backend.Cancel.
func (h *holder) Cancel(ctx context.Context, id string) error { return h.s.cancelRun(id) }

// Subscribe returns a subscription to the events of every task of the
// backend's state (every backend of its Name), which may fall buffer events
// behind the newest before it loses the oldest; zero or less means
// SubscribeBufferDefault. It allocates no buffer of its own: the state keeps
// one ring of events for all its subscribers, and publishing costs the pool
// the same whatever their number. The subscription sees the events
// published after Subscribe returns, those of each run in the order they
// happened, in one order for every subscription; a reader more than buffer
// events behind skips the oldest, never delivered late, and counts them in
// Dropped. See Subscription.
func (h *holder) Subscribe(buffer int) *Subscription { return h.s.events.Subscribe(buffer) }

// Close releases this backend's hold on its state. The last backend of a
// state to close shuts the state down: it stops taking tasks, cancels the
// queued and scheduled ones, and lets running ones finish until ctx ends;
// then it cancels those too and returns an error matching ctx.Err(). Every
// task is left in a final state that GetResult reports. A task that ignores
// its ctx keeps its goroutine until it returns. Closing twice is not an
// error.
func (h *holder) Close(ctx context.Context) error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	return release(ctx, h.s)
}
