package localtasks

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/localtasks/localtasks/internal/pqueue"
	"github.com/localtasks/localtasks/internal/timeheap"
)

// MaxResultsDefault is how many finished results a backend keeps unless
// Config.MaxResults says otherwise.
const MaxResultsDefault = 1000

// Config holds the settings every backend shares.
type Config struct {
	// Name makes the backend's state shared: backends built under one Name
	// share one executor and one result store, the way Django builds many
	// backend instances for one alias. The first one built fixes the
	// configuration; building another with a different one is an error
	// matching ErrConfig. The state lives until the last backend of that
	// Name is closed. Empty (the default) means a private state.
	Name string
	// MaxResults bounds how many finished results are kept, least
	// recently used first out. Queued, scheduled and running tasks are
	// never evicted and do not count. Defaults to MaxResultsDefault.
	MaxResults int
	// Queues lists the queue names tasks may be enqueued to; all share the
	// backend's workers. Defaults to just DefaultQueue.
	Queues []string
	// Logger is the logger tasks get from Logger(ctx). Defaults to
	// slog.Default() at the time the backend is built.
	Logger *slog.Logger
	// Clock is the source of time for run-after times, retry delays and
	// timeouts. Defaults to the system clock.
	Clock Clock
	// Middleware wraps every attempt, the first outermost.
	Middleware []Middleware
	// RunAtMost, for tests, bounds how many runs of each named perpetual
	// task finish before its chain ends, so that Drain returns.
	RunAtMost map[string]int
}

// settings are a state's configuration, as given, so that two backends of
// one Name can be compared.
type settings struct {
	kind       string
	workers    int
	maxResults int
	queues     []string
	logger     *slog.Logger
	clock      Clock
	middleware []Middleware
	runAtMost  map[string]int
	extra      any // a kind's own settings, comparable
}

func (c Config) settings(kind string, workers int) (settings, error) {
	bad := func(format string, args ...any) (settings, error) {
		return settings{}, fmt.Errorf("localtasks: %s config: "+format+": %w", append(append([]any{kind}, args...), ErrConfig)...)
	}
	st := settings{kind: kind, workers: workers, maxResults: c.MaxResults, queues: c.Queues,
		logger: c.Logger, clock: c.Clock, middleware: c.Middleware, runAtMost: maps.Clone(c.RunAtMost)}
	switch {
	case st.maxResults < 0:
		return bad("MaxResults %d is negative: use 0 for the default of %d", st.maxResults, MaxResultsDefault)
	case st.maxResults == 0:
		st.maxResults = MaxResultsDefault
	}
	if len(st.queues) == 0 {
		st.queues = []string{DefaultQueue}
	}
	for i, q := range st.queues {
		if q == "" {
			return bad("queue name %d is empty: give every queue a name", i)
		}
		if slices.Index(st.queues, q) != i {
			return bad("queue %q is listed twice: list each queue once", q)
		}
	}
	for name, n := range st.runAtMost {
		if n < 1 {
			return bad("RunAtMost[%q] is %d, below 1: use 1 or more, or leave the task out", name, n)
		}
	}
	for i, m := range st.middleware {
		if m == nil {
			return bad("Middleware %d is nil: remove it", i)
		}
	}
	return st, nil
}

// differs describes the first difference between a and b, or returns "".
func (a settings) differs(b settings) string {
	pointers := func(ms []Middleware) []uintptr {
		var ps []uintptr
		for _, m := range ms {
			ps = append(ps, reflect.ValueOf(m).Pointer())
		}
		return ps
	}
	switch {
	case a.kind != b.kind:
		return fmt.Sprintf("it is a %s, this one is a %s", a.kind, b.kind)
	case a.workers != b.workers:
		return fmt.Sprintf("it has MaxWorkers %d, this one asks for %d", a.workers, b.workers)
	case a.maxResults != b.maxResults:
		return fmt.Sprintf("it has MaxResults %d, this one asks for %d", a.maxResults, b.maxResults)
	case !slices.Equal(a.queues, b.queues):
		return fmt.Sprintf("it has Queues %q, this one asks for %q", a.queues, b.queues)
	case a.logger != b.logger:
		return "it has another Logger"
	case !sameValue(a.clock, b.clock):
		return "it has another Clock"
	case !slices.Equal(pointers(a.middleware), pointers(b.middleware)):
		return "it has other Middleware"
	case !maps.Equal(a.runAtMost, b.runAtMost):
		return fmt.Sprintf("it has RunAtMost %v, this one asks for %v", a.runAtMost, b.runAtMost)
	case a.extra != b.extra:
		return fmt.Sprintf("it has other %s settings", a.kind)
	}
	return ""
}

// sameValue reports whether a and b are the same value, without the panic
// of == on values of one non-comparable type, which it counts as different.
func sameValue(a, b any) bool {
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) {
		return a == b
	}
	if !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// mode says how a state runs its tasks.
type mode uint8

const (
	modePool    mode = iota // workers take tasks from the ready queue
	modeInline              // Enqueue runs the task in the caller's goroutine
	modeRecord              // nothing runs
	modeProcess             // worker processes take tasks from the ready queue
)

// states is the named state registry.
var states = struct {
	sync.Mutex
	m map[string]*state
}{m: make(map[string]*state)}

// openState returns the state named name, sharing it if it exists with the
// same settings, and making it with make otherwise. A private state (name
// "") is always new. A state that make fails to start is shut down, and
// never shared.
func openState(name string, st settings, make func() (*state, error)) (*state, error) {
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
	s, err := make()
	if err != nil {
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

// state is what backends of one Name share: the queues, the result store,
// the workers' bookkeeping and the subscribers.
type state struct {
	name    string
	set     settings
	mode    mode
	caps    Capabilities
	clock   Clock
	logger  *slog.Logger
	holders int // guarded by states

	index   index    // every run the store holds; see store.go
	results *results // the finished ones

	mu       sync.Mutex // guards what follows and the records' fields
	cond     sync.Cond  // signalled when ready gets a task or closing is set
	ready    pqueue.Queue[*record]
	timed    timeheap.Heap[*record]
	timer    Timer // wakes fire for the earliest of timed
	timerAt  time.Time
	timerGen uint64
	idle     int       // workers waiting on cond
	waking   int       // of those, the ones signalled that have not woken yet
	closing  bool      // no more tasks taken
	closed   bool      // shutdown is over: subscriptions are closed
	recorded []*record // modeRecord: every run, in enqueue order
	subs     []*Subscription
	running  int           // workers (or process-pool slots) still in their loop
	stopped  chan struct{} // closed when running drops to zero
	proc     *procPool     // the worker processes, in modeProcess

	keys       map[keyOf]*record // the unfinished runs with a key
	strikes    []*strikeRule
	gates      map[gateKey]*gate // the groups of runs under a limit
	gatesSweep int               // sweep gates when it has more than this
	chainRuns  map[string]int    // finished runs of perpetual tasks under Config.RunAtMost
	active     int               // unfinished runs
	drained    chan struct{}     // closed when active drops to zero
	counters   Counters
	slotDone   []uint64 // modePool: tasks each worker finished

	testDispatched func(*record) // a test's signal: a run went to a worker
}

func newState(name string, st settings, m mode, caps Capabilities) *state {
	s := &state{name: name, set: st, mode: m, caps: caps, clock: st.clock, logger: st.logger,
		stopped: make(chan struct{})}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.cond.L = &s.mu
	s.results = newResults(st.maxResults, &s.index)
	s.keys = make(map[keyOf]*record)
	s.chainRuns = make(map[string]int)
	s.gatesSweep = 64
	return s
}

// record is the backend's own copy of a task run: 272 bytes, kept
// small because the store holds many of them (see docs/design.md). Its fields
// are guarded by state.mu, but for key, id, def, args and timeout, which
// never change.
type record struct {
	key     uuid.UUID
	id      string // key in canonical form
	def     Definition
	args    any
	value   any // what a successful attempt returned
	queue   string
	timeout time.Duration

	status      Status
	priority    int8
	cancelling  bool // Cancel or Close asked the running attempt to stop
	attempts    int32
	maxAttempts int32        // from the retry policy; never changes
	stored      atomic.Int32 // storedNot, storedPublished or storedEvicted; see store.go

	enqueuedAt time.Time
	// The other times, as offsets from enqueuedAt.
	runAfter, startedAt, lastAttemptedAt, finishedAt offset

	worker0 string        // the first attempt's worker
	workers []string      // the later attempts' workers
	run     attempt       // the running attempt; on a process pool, also a dispatched one
	payload []byte        // the argument gob-encoded, on a process pool
	done    chan struct{} // made by the first Wait, closed when finished
	x       *recordExtra  // what few runs need; nil until one does
}

// attempt is what cancels a run's attempt: its taskCtx in this process, or a
// message to the worker process running it.
type attempt interface {
	// cancel cancels the attempt with err (what its ctx's Err returns)
	// for cause; only the first call counts.
	cancel(err, cause error) bool
}

// recordExtra holds the parts of a record that most runs never need.
type recordExtra struct {
	retry        RetryPolicy
	errs         []TaskError
	cancelReason string
	progress     Progress
	timer        Timer                    // the running attempt's timeout
	entry        *timeheap.Entry[*record] // while SCHEDULED

	key     string           // WithKey's, or a perpetual task's name
	perp    *perpetual       // set for a run of a perpetual task
	plan    *plan            // the run's limits
	gates   [gateKinds]*gate // the groups it belongs to under them
	holding bool             // it holds a slot of its concurrency limit
	granted bool             // its rate limit granted it a later start
}

// keyOf is a key in state.keys: keys are per task.
type keyOf struct{ task, key string }

func (rec *record) extra() *recordExtra {
	if rec.x == nil {
		rec.x = new(recordExtra)
	}
	return rec.x
}

// offset is a time as nanoseconds after a record's enqueuedAt, plus one, so
// that zero means unset. It keeps the monotonic reading of enqueuedAt.
type offset int64

func (rec *record) offset(t time.Time) offset {
	return offset(max(t.Sub(rec.enqueuedAt), 0)) + 1
}

func (rec *record) time(o offset) time.Time {
	if o == 0 {
		return time.Time{}
	}
	return rec.enqueuedAt.Add(time.Duration(o - 1))
}

// snapshot copies rec for a caller. Must hold s.mu.
func (s *state) snapshot(rec *record) TaskResult {
	res := TaskResult{
		ID: rec.id, Task: rec.def.Name(), Backend: s.name, Queue: rec.queue, Priority: int(rec.priority),
		Status: rec.status, EnqueuedAt: rec.enqueuedAt, RunAfter: rec.time(rec.runAfter), StartedAt: rec.time(rec.startedAt),
		LastAttemptedAt: rec.time(rec.lastAttemptedAt), FinishedAt: rec.time(rec.finishedAt), Attempts: int(rec.attempts),
		Args: rec.args, Value: rec.value,
	}
	if rec.attempts > 0 {
		res.WorkerIDs = make([]string, 0, 1+len(rec.workers))
		res.WorkerIDs = append(append(res.WorkerIDs, rec.worker0), rec.workers...)
	}
	if x := rec.x; x != nil {
		res.Errors = slices.Clone(x.errs)
		res.CancelReason = x.cancelReason
		res.Progress = x.progress
		res.Key = x.key
	}
	return res
}

// lookup finds the run with that ID. It takes no lock but an index
// shard's; read the record under s.mu.
func (s *state) lookup(id string) (*record, error) {
	key, err := uuid.Parse(id)
	if err != nil {
		return nil, fmt.Errorf("localtasks: %q is not a task ID: IDs are the UUIDs Enqueue returns: %w", id, ErrResultNotFound)
	}
	if rec := s.index.get(key); rec != nil {
		return rec, nil
	}
	return nil, fmt.Errorf("localtasks: no task %s on backend %q: the ID is unknown, or its result was evicted (MaxResults is %d): %w",
		id, s.name, s.set.maxResults, ErrResultNotFound)
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
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return TaskResult{}, fmt.Errorf("localtasks: waiting for task %s: %w", id, ctx.Err())
	}
	return s.read(rec), nil // from rec itself: it may have left the store already
}

// finalize gives rec its final status and moves it to the result store,
// unless the caller stored it already. Must hold s.mu.
func (s *state) finalize(rec *record, st Status, now time.Time, stored bool) {
	rec.status, rec.finishedAt = st, rec.offset(now)
	switch st {
	case StatusSuccessful:
		s.counters.Succeeded++
	case StatusFailed:
		s.counters.Failed++
	default:
		s.counters.Cancelled++
	}
	if x := rec.x; x != nil {
		if x.entry != nil {
			s.timed.Remove(x.entry)
			x.entry = nil
			s.arm()
		}
		s.release(rec)
		if x.plan != nil {
			s.detachGates(rec, now)
		}
		if x.key != "" {
			if k := (keyOf{rec.def.Name(), x.key}); s.keys[k] == rec {
				delete(s.keys, k)
			}
		}
		if x.perp != nil && st != StatusCancelled {
			s.perpetuate(rec, now)
		}
	}
	if s.active--; s.active == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	if !stored {
		rec.stored.Store(storedPublished)
		s.results.add(rec)
	} else if !rec.stored.CompareAndSwap(storedNot, storedPublished) {
		s.index.del(rec.key) // evicted while we published it
	}
	if rec.done != nil {
		close(rec.done)
	}
	s.emit(EventFinished, rec)
}

// setProgress records the progress of rec's attempt run, if it still runs.
func (s *state) setProgress(rec *record, run attempt, done, total int64, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.status != StatusRunning || rec.run != run {
		return
	}
	rec.extra().progress = Progress{Done: done, Total: total, Message: message, At: s.clock.Now()}
	s.emit(EventProgress, rec)
}

// emit delivers an event to every subscriber that has room for it. Must
// hold s.mu, which keeps each task's events in order.
func (s *state) emit(k EventKind, rec *record) {
	if len(s.subs) == 0 {
		return
	}
	ev := Event{Kind: k, Result: s.snapshot(rec)}
	for _, sub := range s.subs {
		select {
		case sub.c <- ev:
		default:
			sub.dropped.Add(1)
		}
	}
}

func (s *state) subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = SubscribeBufferDefault
	}
	c := make(chan Event, buffer)
	sub := &Subscription{C: c, c: c, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(c)
		return sub
	}
	s.subs = append(s.subs, sub)
	return sub
}

func (s *state) unsubscribe(sub *Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.subs, sub); i >= 0 {
		s.subs = slices.Delete(s.subs, i, i+1)
		close(sub.c)
	}
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
// backend's state (every backend of its Name), whose channel buffers that
// many events; zero or less means SubscribeBufferDefault.
func (h *holder) Subscribe(buffer int) *Subscription { return h.s.subscribe(buffer) }

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
