package river

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// Config configures a Backend. The zero value is an insert-only backend on
// River's tables in the search_path, for the default queue.
type Config struct {
	// Name is the backend's name, reported in TaskResult.Backend.
	Name string
	// Queues lists the queues tasks may be enqueued to, and that the
	// workers work. They are River queues of the same names. Defaults to
	// just localtasks.QueueDefault.
	Queues []string
	// Workers is how many tasks this backend runs at once per queue. Zero
	// (the default) makes a backend that enqueues, reads and cancels runs
	// but runs none: a producer or a reader.
	Workers int
	// Tasks names the tasks this backend's workers run; other kinds are
	// left to other workers. Defaults to every task defined when New is
	// called (localtasks.Names()) whose argument and result JSON can carry.
	Tasks []string
	// Schema is the PostgreSQL schema of River's tables. Defaults to ""
	// (the search_path).
	Schema string
	// ID names this backend's River client, and so the worker in
	// TaskResult.WorkerIDs. Defaults to River's: the host name and a time.
	ID string
	// Logger is the logger tasks get from localtasks.Logger(ctx), and
	// River's. Defaults to slog.Default().
	Logger *slog.Logger
	// Clock is the source of time for run-after times, retry delays and
	// timeouts. Defaults to the system clock, with River's times from the
	// database. Any other clock is also River's time (River's
	// Config.Test.Time), for tests such as localtaskstest's FakeClock.
	Clock localtasks.Clock
	// FetchPollInterval is how often idle workers look for jobs when
	// PostgreSQL's notifications do not wake them. New jobs notify them,
	// and so do the runs whose run-after time or retry delay comes due
	// (see the package doc, "Timing"); this interval is the fallback.
	// Defaults to River's, one second.
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches of jobs by a
	// queue's workers, and so bounds their throughput: at most Workers jobs
	// a cooldown; a notification that comes within it waits for its end.
	// Defaults to River's, 100 ms (80 jobs a second for 8 workers); short
	// jobs want less, down to River's minimum of 1 ms, at the cost of more
	// queries.
	FetchCooldown time.Duration
	// Automatic names the automatic perpetual tasks (localtasks.WithCron,
	// or Perpetual.Automatic) that become River periodic jobs, as
	// localtasks.Config.Automatic names those a pool starts: each of the
	// task's kind and with its name as ID, on its schedule (its interval,
	// its cron expression read in its time zone, or its Schedule), its run
	// at once as the job starts if the task runs on start or has an
	// interval. Only River's elected leader inserts periodic jobs, so name
	// the task in every process whose backend has Workers: whichever leads
	// inserts the runs, and any worker runs them. Each must be defined by
	// New, be automatic, be on a queue that Queues lists, and JSON must carry
	// its types, or New fails with localtasks.ErrConfig; so does Automatic
	// with Workers 0. Defaults to none. See the package doc's "Cron and
	// perpetual tasks".
	Automatic []string
	// Middleware wraps every attempt this backend's workers run, the first
	// outermost, as localtasks.Config.Middleware does on a pool: on the
	// worker, inside the attempt's ctx (localtasks.TaskID and the rest
	// answer) and its panic recovery. Defaults to none, which costs an
	// attempt nothing.
	Middleware []localtasks.Middleware
	// RunLogs says which of the records a run writes through
	// localtasks.Logger(ctx) its TaskResult keeps, in Logs and
	// LogsDropped, as localtasks.Config.RunLogs does on a pool, with the
	// same defaults: the records at slog.LevelInfo and above, up to
	// localtasks.RunLogsMaxRecords records or RunLogsMaxBytes bytes a run,
	// all its attempts together. They are kept as River's riverlog
	// middleware keeps a job's logs, in the job's metadata under
	// "river:log", so River UI shows them, each attempt's as it ends; see
	// the package doc, "Run logs". Each process's workers keep what their
	// attempts write by their own RunLogs. RunLogs.Off keeps none, and
	// costs an attempt nothing; otherwise an attempt that logs nothing
	// costs no query and no metadata.
	RunLogs localtasks.RunLogs
	// Propagator, if set, carries the trace context of each Enqueue,
	// EnqueueTx and EnqueueMany to the attempts of the jobs it inserts, as
	// localtasks.Config.Propagator does on a pool: its carrier is kept in
	// the job's metadata, under "localtasks", and the worker that runs an
	// attempt, in whatever process, gives it to Extract before the
	// middleware sees the attempt's ctx. Every process must have the same
	// one. One that is a localtasks.EnqueueTracer (otel.TracingPropagator)
	// also traces each enqueue. Defaults to none, which stores nothing.
	Propagator localtasks.Propagator
	// WatchPollInterval is how often a Watch reads its run's job for the
	// changes no notification brings: the start and progress of a run
	// that another process's workers run. Defaults to
	// WatchPollIntervalDefault. See Backend.Watch.
	WatchPollInterval time.Duration
	// RecentFinished is how many of the runs this process's workers
	// finished most recently it keeps in memory, final job row and all, so
	// that a Wait or Watch on one of them returns without reading it: a
	// handler that enqueues and waits costs no query beyond the insert.
	// Defaults to RecentFinishedDefault; less than zero keeps none, and
	// every Wait on a finished run reads its job. A row costs about its
	// job's size (arguments, result, errors) plus some 300 bytes.
	RecentFinished int
}

// subscribeBuffer is the buffer of the adapter's subscription to its River
// client's events, which River drops when it is full: twice the 5,000
// completions River's completer may tell of at once. A dropped finish
// costs its Wait a reread, up to two seconds later.
const subscribeBuffer = 10_000

// WatchPollIntervalDefault is Config.WatchPollInterval's default.
const WatchPollIntervalDefault = time.Second

// RecentFinishedDefault is Config.RecentFinished's default.
const RecentFinishedDefault = 4096

// Capabilities are what a Backend supports: everything but limits and
// perpetual tasks, which River's unique jobs and periodic jobs do not
// carry with localtasks' semantics, and pauses of tasks and queues'
// workers of their own (Pause): River pauses queues (PauseQueues).
// Automatic perpetual and cron tasks run as River periodic jobs all the
// same: see Config.Automatic.
var Capabilities = localtasks.Capabilities{
	Defer:         true,
	Priority:      true,
	GetResult:     true,
	Cancel:        true,
	CancelRunning: true,
	Retry:         true,
	Timeout:       true,
	ExtendTimeout: true,
	PauseQueues:   true,
}

// Backend is a localtasks.Backend on River and PostgreSQL: every run is a
// River job whose kind is the task's name, so any process on any machine
// with the same task definitions and database can enqueue, run, read and
// cancel it. Run IDs are River job IDs in decimal.
//
// Events (Subscribe) are this process's: the enqueues made through this
// Backend, and the attempts its workers run.
type Backend struct {
	cfg     Config
	pool    *pgxpool.Pool
	client  *river.Client[pgx.Tx]
	clock   localtasks.Clock
	table   string // river_job, schema-qualified and quoted
	logger  *slog.Logger
	events  *backendkit.Broadcaster
	timers  *promoter
	wait    *waiters     // Waits and Watches, woken as runs finish, here or elsewhere
	notify  *notifier    // tells other processes of the runs that finish here
	watch   *waiters     // Watches, woken as this process's workers start runs and report progress
	local   *localRuns   // the runs this process's workers run
	recent  *recent      // the final rows of the runs this process's workers finished last
	stats   stats        // this process's counters: see Counters
	strikes *strikeCache // the strikes in force, as this process last read them
	order   order        // this process's start events wait for its enqueue events
	heard   *pauseAcks   // Pauses waiting for this process's workers to hear of them

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error              // the first Close's
	stop      context.CancelFunc // stops the goroutines below
	bg        sync.WaitGroup
}

var _ localtasks.Backend = (*Backend)(nil)

// Migrate brings River's tables in schema ("" for the search_path) up to
// date, as River's own migrations (rivermigrate) do, creating the schema if
// it does not exist, and creates the adapter's own table of strikes
// (localtasks_strike) there if it is missing. Run it once before the first
// Backend, from a deploy step or at startup: it is safe to run again.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("localtasks/river: migrate: creating schema %q: %w", schema, err)
		}
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err != nil {
		return fmt.Errorf("localtasks/river: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("localtasks/river: migrate schema %q: %w", schema, err)
	}
	return migrateStrikes(ctx, pool, schema)
}

// New returns a Backend on pool's database, whose River tables and table
// of strikes must exist (Migrate); it reads the strikes in force. With
// cfg.Workers above zero it starts a River client that runs the tasks of
// cfg.Tasks from cfg.Queues until Close; ctx bounds the start only. The pool stays the caller's: Close does not close it.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Backend, error) {
	bad := func(format string, args ...any) (*Backend, error) {
		return nil, fmt.Errorf("localtasks/river: config: "+format+": %w", append(args, localtasks.ErrConfig)...)
	}
	if pool == nil {
		return bad("the pool is nil: pass a *pgxpool.Pool connected to the database")
	}
	if cfg.Workers < 0 {
		return bad("Workers %d is negative: use 0 for a backend that runs nothing", cfg.Workers)
	}
	if cfg.WatchPollInterval < 0 {
		return bad("WatchPollInterval %v is negative: leave it 0 for the default, %v", cfg.WatchPollInterval, WatchPollIntervalDefault)
	}
	if cfg.RunLogs.MaxRecords < 0 || cfg.RunLogs.MaxBytes < 0 {
		return bad("RunLogs.MaxRecords %d or MaxBytes %d is negative: use 0 for the defaults of %d and %d, or RunLogs.Off to keep none",
			cfg.RunLogs.MaxRecords, cfg.RunLogs.MaxBytes, localtasks.RunLogsMaxRecords, localtasks.RunLogsMaxBytes)
	}
	cfg.RunLogs.MaxRecords = cmp.Or(cfg.RunLogs.MaxRecords, localtasks.RunLogsMaxRecords)
	cfg.RunLogs.MaxBytes = cmp.Or(cfg.RunLogs.MaxBytes, localtasks.RunLogsMaxBytes)
	if cfg.WatchPollInterval == 0 {
		cfg.WatchPollInterval = WatchPollIntervalDefault
	}
	if cfg.RecentFinished == 0 {
		cfg.RecentFinished = RecentFinishedDefault
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = []string{localtasks.QueueDefault}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Middleware = slices.Clone(cfg.Middleware)
	cfg.Automatic = slices.Clone(cfg.Automatic)
	allTasks := cfg.Workers > 0 && cfg.Tasks == nil
	if allTasks {
		cfg.Tasks = localtasks.Names()
	}
	b := &Backend{cfg: cfg, pool: pool, clock: cfg.Clock, logger: cfg.Logger, events: backendkit.NewBroadcaster(),
		wait: newWaiters(), watch: newWaiters(), recent: newRecent(cfg.RecentFinished)}
	if b.clock == nil {
		b.clock = systemClock{}
	}
	b.table = "river_job"
	if cfg.Schema != "" {
		b.table = pgx.Identifier{cfg.Schema, "river_job"}.Sanitize()
	}

	rc := &river.Config{
		ID:                  cfg.ID,
		Logger:              cfg.Logger,
		Schema:              cfg.Schema,
		SkipUnknownJobCheck: true, // other processes may run kinds this one does not
		FetchPollInterval:   cfg.FetchPollInterval,
		JobTimeout:          -1, // timeouts run on cfg.Clock: see work
	}
	if cfg.FetchPollInterval > 0 {
		rc.FetchCooldown = min(river.FetchCooldownDefault, cfg.FetchPollInterval)
	}
	if cfg.FetchCooldown > 0 {
		rc.FetchCooldown = cfg.FetchCooldown
	}
	if cfg.Clock != nil {
		rc.Test.Time = riverTime{cfg.Clock}
	}
	periodic, err := b.periodicJobs()
	if err != nil {
		return bad("%v", err)
	}
	rc.PeriodicJobs = periodic
	if cfg.Workers > 0 {
		workers := river.NewWorkers()
		for _, name := range cfg.Tasks {
			def, ok := localtasks.Lookup(name)
			if !ok {
				return bad("task %q in Tasks is not defined: define it before New, or leave it out", name)
			}
			if err := checkTypes(def); err != nil {
				if allTasks { // it cannot be enqueued here either
					continue
				}
				return bad("task %q in Tasks: %v", name, err)
			}
			river.AddWorkerArgs(workers, jobArgs{kind: name}, &taskWorker{b: b, def: def, unchained: unchained(def)})
		}
		rc.Workers = workers
		if !cfg.RunLogs.Off {
			rc.Middleware = []rivertype.Middleware{newLogMiddleware()}
		}
		rc.FetchOnlyKnownKinds = true
		rc.Queues = make(map[string]river.QueueConfig, len(cfg.Queues))
		for _, q := range cfg.Queues {
			rc.Queues[q] = river.QueueConfig{MaxWorkers: cfg.Workers}
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("localtasks/river: %v: %w", err, localtasks.ErrConfig)
	}
	b.client = client

	bgctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b.stop = stop
	b.timers = newPromoter(b)
	b.local = newLocalRuns()
	b.notify = newNotifier(b)
	b.strikes = newStrikeCache(b)
	b.heard = newPauseAcks()
	if err := b.strikes.load(ctx); err != nil {
		stop()
		return nil, err
	}
	if cfg.Workers > 0 {
		sub, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: subscribeBuffer, Kinds: []river.EventKind{
			river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed,
			river.EventKindQueuePaused}})
		// River stops its client when Start's ctx ends: Close does that here.
		if err := client.Start(context.WithoutCancel(ctx)); err != nil {
			cancelSub()
			stop()
			return nil, fmt.Errorf("localtasks/river: start River's client: %w", err)
		}
		b.bg.Go(func() {
			defer cancelSub()
			b.forward(bgctx, sub)
		})
	}
	b.bg.Go(func() { b.notify.listen(bgctx) })
	b.bg.Go(func() { b.notify.run(bgctx) })
	b.bg.Go(func() { b.strikes.run(bgctx) })
	return b, nil
}

// Name returns cfg.Name.
func (b *Backend) Name() string { return b.cfg.Name }

// Capabilities returns Capabilities.
func (b *Backend) Capabilities() localtasks.Capabilities { return Capabilities }

// Client returns the River client under the backend, for what localtasks
// does not say, such as listing jobs or River's periodic jobs.
func (b *Backend) Client() *river.Client[pgx.Tx] { return b.client }

// Subscribe returns a subscription to this process's events: the enqueues
// made through b and the attempts b's workers run.
func (b *Backend) Subscribe(buffer int) *localtasks.Subscription { return b.events.Subscribe(buffer) }

// Enqueue inserts a River job for a run of task with args. Arguments are
// JSON-encoded: a task whose argument or result type JSON cannot carry
// (funcs, chans, complex numbers, maps keyed by other than strings,
// integers or text) is refused with an error matching
// localtasks.ErrInvalidTask. See localtasks.Backend.
func (b *Backend) Enqueue(ctx context.Context, task localtasks.Definition, args any, opts localtasks.Options) (localtasks.Receipt, error) {
	if tctx, end := b.traceEnqueue(ctx, task, opts.Queue, 1); end != nil {
		r, err := b.enqueue(tctx, task, args, opts)
		endOne(end, r, err)
		return r, err
	}
	return b.enqueue(ctx, task, args, opts)
}

// enqueue is Enqueue's, traced or not.
func (b *Backend) enqueue(ctx context.Context, task localtasks.Definition, args any, opts localtasks.Options) (localtasks.Receipt, error) {
	j, err := b.prepareOne(ctx, task, args, opts)
	if err != nil {
		return localtasks.Receipt{}, err
	}
	ins, err := b.insert(ctx, nil, []newJob{j})
	if err != nil {
		return localtasks.Receipt{}, fmt.Errorf("localtasks/river: enqueue %q: %w", task.Name(), err)
	}
	b.inserted(ins)
	return ins.receipts[0], nil
}

// prepareOne is prepare for Enqueue and EnqueueTx: it also refuses a run
// on a closed backend, or with a ctx that is already done.
func (b *Backend) prepareOne(ctx context.Context, task localtasks.Definition, args any, opts localtasks.Options) (newJob, error) {
	if b.closed.Load() {
		return newJob{}, fmt.Errorf("localtasks/river: enqueue: backend %q is closed: %w", b.cfg.Name, localtasks.ErrClosed)
	}
	j, err := b.prepare(task, args, opts, b.inject(ctx))
	if err != nil {
		return newJob{}, err
	}
	if err := ctx.Err(); err != nil {
		return newJob{}, fmt.Errorf("localtasks/river: enqueue %q: the caller's ctx is already done, nothing was queued: %w", task.Name(), err)
	}
	return j, nil
}

var _ localtasks.BatchEnqueuer = (*Backend)(nil)

// EnqueueMany inserts a River job for a run of task for each of args, all
// with opts, with River's InsertMany: in one transaction, all or none. An
// argument refused (see Enqueue) refuses the batch, and the error names
// its index. Runs of one key share the first's run (AlreadyEnqueued), as
// they would one Enqueue after another; with opts.Replace each replaces
// the one before, so the last holds the key. See localtasks.BatchEnqueuer.
func (b *Backend) EnqueueMany(ctx context.Context, task localtasks.Definition, args []any, opts localtasks.Options) ([]localtasks.Receipt, error) {
	if len(args) > 0 {
		if tctx, end := b.traceEnqueue(ctx, task, opts.Queue, len(args)); end != nil {
			rs, err := b.enqueueMany(tctx, task, args, opts)
			if err != nil {
				end(nil, err)
				return nil, err
			}
			ids := make([]string, len(rs))
			for i, r := range rs {
				ids[i] = r.ID
			}
			end(ids, nil)
			return rs, nil
		}
	}
	return b.enqueueMany(ctx, task, args, opts)
}

// enqueueMany is EnqueueMany's, traced or not.
func (b *Backend) enqueueMany(ctx context.Context, task localtasks.Definition, args []any, opts localtasks.Options) ([]localtasks.Receipt, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("localtasks/river: enqueue many: backend %q is closed: %w", b.cfg.Name, localtasks.ErrClosed)
	}
	if len(args) == 0 {
		return nil, nil
	}
	jobs := make([]newJob, len(args))
	carrier := b.inject(ctx) // once for all: the jobs share it
	for i, a := range args {
		j, err := b.prepare(task, a, opts, carrier)
		if err != nil {
			return nil, fmt.Errorf("localtasks/river: enqueue many: argument %d of %d, so none was queued: %w", i, len(args), err)
		}
		jobs[i] = j
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localtasks/river: enqueue many %q: the caller's ctx is already done, nothing was queued: %w", task.Name(), err)
	}
	ins, err := b.insert(ctx, nil, jobs)
	if err != nil {
		return nil, fmt.Errorf("localtasks/river: enqueue many %q: nothing was queued: %w", task.Name(), err)
	}
	b.inserted(ins)
	return ins.receipts, nil
}

// unfinishedStates are the states that hold a key: a run's key is free
// again once it is completed, discarded or cancelled.
var unfinishedStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// setCancelReason records why a run was cancelled, and tells waiters in
// every process once tx commits.
func (b *Backend) setCancelReason(ctx context.Context, tx pgx.Tx, id int64, reason string) error {
	_, err := tx.Exec(ctx, "UPDATE "+b.table+" SET metadata = metadata || jsonb_build_object($2::text, $3::text) WHERE id = $1",
		id, cancelReasonKey, reason)
	return err
}

// GetResult reads the run's job. An ID that is not a job's (or whose job
// River's cleaner has deleted) gives an error matching
// localtasks.ErrResultNotFound.
func (b *Backend) GetResult(ctx context.Context, id string) (localtasks.TaskResult, error) {
	row, err := b.job(ctx, id)
	if err != nil {
		return localtasks.TaskResult{}, err
	}
	return b.result(row), nil
}

func (b *Backend) job(ctx context.Context, id string) (*rivertype.JobRow, error) {
	jid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	row, err := b.client.JobGet(ctx, jid)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil, fmt.Errorf("localtasks/river: run %s: no such job (or River's cleaner deleted it): %w", id, localtasks.ErrResultNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("localtasks/river: run %s: %w", id, err)
	}
	return row, nil
}

// Wait blocks until the run has finished, or ctx ends. Finishes reach it
// at once from this process's workers, with the final job; and by
// PostgreSQL's LISTEN/NOTIFY, within a few milliseconds, from the process
// that ran or cancelled the run. It also reads the run every few seconds,
// for runs River itself finished (a rescued stuck job).
func (b *Backend) Wait(ctx context.Context, id string) (localtasks.TaskResult, error) {
	jid, err := parseID(id)
	if err != nil {
		return localtasks.TaskResult{}, err
	}
	ch, done := b.wait.add(jid)
	defer done()
	// Look after registering, so that a finish in between is not missed.
	if row := b.recent.get(jid); row != nil {
		return b.result(row), nil
	}
	row, err := b.job(ctx, id)
	for {
		if err != nil {
			return localtasks.TaskResult{}, err
		}
		if statusOf(row.State).Finished() {
			return b.result(row), nil
		}
		t := time.NewTimer(waitRecheck)
		var final *rivertype.JobRow
		select {
		case final = <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return localtasks.TaskResult{}, fmt.Errorf("localtasks/river: wait for run %s: %w", id, ctx.Err())
		}
		t.Stop()
		if final != nil && statusOf(final.State).Finished() {
			row = final // this process's worker finished it: no need to read it
			continue
		}
		row, err = b.job(ctx, id)
	}
}

// waitRecheck is how often Wait reads a run it has heard nothing about.
const waitRecheck = 2 * time.Second

// Cancel cancels the run: a queued or scheduled one ends CANCELLED at
// once; a running one has its ctx cancelled, on whichever machine runs it,
// and ends CANCELLED once it returns. See localtasks.Backend.
func (b *Backend) Cancel(ctx context.Context, id string) error {
	row, err := b.job(ctx, id)
	if err != nil {
		return err
	}
	switch row.State {
	case rivertype.JobStateCancelled:
		return nil
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded:
		return fmt.Errorf("localtasks/river: cancel run %s: it is %v: %w", id, statusOf(row.State), localtasks.ErrFinished)
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("localtasks/river: cancel run %s: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	after, err := b.client.JobCancelTx(ctx, tx, row.ID)
	if err != nil {
		return fmt.Errorf("localtasks/river: cancel run %s: %w", id, err)
	}
	reason := "cancelled before it started"
	switch after.State {
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded:
		return fmt.Errorf("localtasks/river: cancel run %s: it is %v: %w", id, statusOf(after.State), localtasks.ErrFinished)
	case rivertype.JobStateRunning:
		reason = "cancelled while it was running"
	}
	if err := b.setCancelReason(ctx, tx, row.ID, reason); err != nil {
		return fmt.Errorf("localtasks/river: cancel run %s: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("localtasks/river: cancel run %s: %w", id, err)
	}
	if after.State == rivertype.JobStateRunning {
		b.local.cancel(row.ID, time.Now())
	}
	if after.State == rivertype.JobStateCancelled {
		b.stats.cancelledHere()
		b.timers.remove(row.ID)
		b.finished(row.ID, nil)
		if b.events.Subscribed() {
			if row, err := b.client.JobGet(ctx, row.ID); err == nil {
				b.publish(localtasks.EventFinished, row)
			}
		}
	}
	return nil
}

// Close stops b taking tasks. A backend with workers stops its River
// client: it waits for running tasks until ctx ends, then cancels them and
// returns ctx's error. A task cancelled so is not CANCELLED: River puts
// its job back in its queue, and a worker (here after a restart, or on
// another machine) runs it again; queued and scheduled runs stay in the
// database for other workers too. Results stay readable after Close.
func (b *Backend) Close(ctx context.Context) error {
	var err error
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.timers.close()
		if b.cfg.Workers > 0 {
			if err := b.client.Stop(ctx); err != nil {
				b.closeErr = fmt.Errorf("localtasks/river: close: gave up waiting for running tasks, which go back to their queue: %w", err)
				hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				if err := b.client.StopAndCancel(hard); err != nil {
					b.closeErr = errors.Join(b.closeErr, fmt.Errorf("localtasks/river: close: River's client did not stop: %w", err))
				}
				cancel()
			}
		}
		b.stop()
		b.bg.Wait()
		b.notify.close()
		b.events.Close()
		err = b.closeErr
	})
	return err
}

// publish delivers an event about row to b's subscribers, and wakes its
// watchers in this process.
func (b *Backend) publish(kind localtasks.EventKind, row *rivertype.JobRow) {
	b.watch.wake(row.ID, nil)
	if b.events.Subscribed() {
		b.events.Publish(localtasks.Event{Kind: kind, Result: b.result(row)})
	}
}

// forward turns River's events about the jobs b's workers ran into
// localtasks events, wakes waiters, and arms and announces the timers of
// retries and snoozes; and wakes the Pauses waiting for b's workers to
// hear of them.
func (b *Backend) forward(ctx context.Context, sub <-chan *river.Event) {
	defer b.heard.stop()
	for {
		var ev *river.Event
		var ok bool
		select {
		case ev, ok = <-sub:
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
		if ev.Kind == river.EventKindQueuePaused && ev.Queue != nil {
			b.heard.wake(ev.Queue.Name)
		}
		if ev.Job == nil {
			continue
		}
		b.saw(ev)
		switch ev.Job.State {
		case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
			b.publish(localtasks.EventFinished, ev.Job)
			b.finished(ev.Job.ID, ev.Job)
		case rivertype.JobStateRetryable, rivertype.JobStateScheduled:
			b.deferred(ev.Job.Queue, ev.Job.ID, ev.Job.ScheduledAt)
		case rivertype.JobStateAvailable: // a retry or snooze River made available before its time
			if ev.Job.ScheduledAt.After(b.clock.Now()) {
				b.deferred(ev.Job.Queue, ev.Job.ID, ev.Job.ScheduledAt)
			}
		}
	}
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// foreverAttempts is localtasks.RetryForever on River, whose max_attempts
// column is a smallint that each snooze raises by one.
const foreverAttempts = 30_000

// maxAttempts is a policy's max_attempts.
func maxAttempts(p localtasks.RetryPolicy) int {
	if p.MaxAttempts == localtasks.RetryForever {
		return foreverAttempts
	}
	return max(p.MaxAttempts, 1)
}

// parseID is the job ID of a run ID, or an error matching
// localtasks.ErrResultNotFound.
func parseID(id string) (int64, error) {
	jid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || jid <= 0 || formatID(jid) != id {
		return 0, fmt.Errorf("localtasks/river: run %q: not a River job ID: %w", id, localtasks.ErrResultNotFound)
	}
	return jid, nil
}

// riverPriority maps a localtasks priority (-100 to 100, higher first)
// onto River's four levels (1 first): above zero is 1, zero (the default)
// is 2, -1 to -50 is 3, and below -50 is 4. Runs of one level start in
// the order they became ready, whatever their localtasks priorities.
func riverPriority(p int) int {
	switch {
	case p > 0:
		return 1
	case p == 0:
		return 2
	case p >= -50:
		return 3
	}
	return 4
}

// riverTime makes a localtasks.Clock River's time.
type riverTime struct{ c localtasks.Clock }

func (t riverTime) Now() time.Time { return t.c.Now() }
func (t riverTime) NowOrNil() *time.Time {
	now := t.c.Now()
	return &now
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) localtasks.Timer {
	return time.AfterFunc(d, f)
}

// traceEnqueue starts tracing an enqueue of n runs of task on queue, if
// Config.Propagator is a localtasks.EnqueueTracer: it returns the ctx to
// enqueue with and the function to call with the outcome; nil for none.
func (b *Backend) traceEnqueue(ctx context.Context, task localtasks.Definition, queue string, n int) (context.Context, func([]string, error)) {
	t, ok := b.cfg.Propagator.(localtasks.EnqueueTracer)
	if !ok || task == nil {
		return ctx, nil
	}
	return t.StartEnqueue(ctx, localtasks.EnqueueInfo{Backend: b.cfg.Name, Task: task.Name(), Queue: cmp.Or(queue, localtasks.QueueDefault), Runs: n})
}

// endOne ends the trace of an enqueue of one run.
func endOne(end func([]string, error), r localtasks.Receipt, err error) {
	if err != nil {
		end(nil, err)
	} else {
		end([]string{r.ID}, nil)
	}
}

// inject returns the carrier Config.Propagator makes of ctx, or nil.
func (b *Backend) inject(ctx context.Context) map[string]string {
	if p := b.cfg.Propagator; p != nil {
		if c := p.Inject(ctx); len(c) > 0 {
			return c
		}
	}
	return nil
}
