// Package river is a localtasks.Backend on River
// (github.com/riverqueue/river) and PostgreSQL: the same task definitions
// that run on a goroutine pool in development run as River jobs on any
// number of machines in production, by changing one constructor.
//
// Its name is River's own, so a program that imports both, for
// Backend.Client or River's own periodic jobs, imports this package under
// another name; the examples and docs use ltriver:
//
//	import (
//		"github.com/riverqueue/river"
//
//		ltriver "github.com/localtasks/localtasks/adapters/river"
//	)
//
// # Setup
//
// Run River's migrations once (Migrate), then build a Backend on a pgx
// pool. With Config.Workers above zero it also runs the tasks:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	err = ltriver.Migrate(ctx, pool, "")
//	workers, err := ltriver.New(ctx, pool, ltriver.Config{Workers: 8})
//	defer workers.Close(ctx)
//	h, err := Resize.Enqueue(ctx, workers, ResizeArgs{...})
//
// A process that only enqueues and reads results leaves Workers at zero.
//
// # Mapping
//
// A run is a River job whose kind is the task's name. Its argument is
// stored as JSON; its value, and what River's columns lack (the type and
// stack of each failed attempt, progress), as the job's recorded output
// (River's river.RecordOutput). Run IDs are job IDs in decimal, readable by
// GetResult in any process. Statuses map from job states: scheduled,
// retryable and pending are SCHEDULED; available is READY; running is
// RUNNING; completed SUCCESSFUL; discarded FAILED; cancelled CANCELLED.
// Priorities map onto River's four levels (see riverPriority); run-after
// times onto scheduled jobs; retries onto max attempts and the task's
// RetryPolicy (the worker's NextRetry); keys onto River's unique jobs, by
// the key alone, while the run is unfinished. Timeouts, run-after times and
// retry delays run on Config.Clock; River's scheduler makes due jobs
// available too, so a job whose enqueuing process died still runs.
//
// # Timing
//
// New runs wake idle workers at once, by River's insert notification. A
// deferred run (a run-after time, a retry delay, a snooze) would wait for
// River: its scheduler makes due jobs available every five seconds (an
// interval River does not let one set), and workers find them at their
// next poll, Config.FetchPollInterval. The adapter starts them on time in
// any process instead: the process that defers a run announces its ID and
// due time (in the NOTIFY that announces finishes, batched), every
// process with workers on its queue keeps it, and at the due time the
// deferring process makes it available and sends River's insert
// notification, which wakes the workers of every process; the others do
// so 10 to 20 ms later if it has not started, as when the deferring
// process is gone. A process with workers that starts, or reconnects,
// reads the runs already deferred on its queues (the first 1,000). Only
// runs that no live process knows of (their process died within
// milliseconds of deferring them; beyond those bounds) are left to River's
// scheduler and poll: up to five seconds and FetchPollInterval late.
//
// Measured from due time to start (River's scheduled_at to attempted_at),
// with worker processes that poll once a second, on a loaded 2-core
// machine (TestDueRunsStartOnTimeElsewhere and
// TestDueRunsDeferredBeforeWorkersStarted, medians of 8 or 10 runs, River's
// default FetchCooldown): 5-12 ms for runs deferred by a live process with
// no workers, 3-6 ms for retries of attempts failed in another worker
// process, 15-42 ms when the deferring process has closed, and 19-28 ms
// for runs deferred before the worker process started; single runs up to
// 100 ms (257 ms once, under the race detector). Before, the same runs
// started 380-420 ms late at the median (up to the poll interval), and 0.6
// to 3.1 s when the deferring process had closed.
//
// Two limits are River's. Its workers fetch at most once a
// Config.FetchCooldown (100 ms by default), and a notification within it
// waits for its end, so runs due close together may start up to a
// cooldown late: with a 10 ms cooldown the medians above were 3-17 ms.
// And a run starts only when a worker is free. Due times are compared with
// the database's clock (or Config.Clock): a host whose clock is behind the
// database's promotes late by the difference.
//
// Cost: a run without a run-after time costs nothing more. A deferred run
// costs its ID in a batched NOTIFY, and at its due time one query (an
// UPDATE that also notifies) in each process that knows of it, shared by
// the runs due at the same moment.
//
// EnqueueMany (localtasks.BatchEnqueuer, Task.EnqueueMany) inserts its
// runs with River's InsertMany, in one transaction and one statement: all
// or none. Wait hears at once of the runs this process's workers finish,
// and takes their final job from River's subscription without reading it
// again, or, when the run finished before the Wait, from the last
// Config.RecentFinished finals this process keeps; the other processes hear
// of them by LISTEN/NOTIFY, one notification for the runs that finish
// within a few milliseconds.
//
// Watch (localtasks.Watch, Handle.Watch) follows one run: it hears at once
// of what this process's workers do and of a finish in any process, and
// reads the job every Config.WatchPollInterval for the start and progress
// of a run that another process runs, which River announces to no one.
//
// # Operators: Snapshot, Counters and Drain
//
// A Backend is a localtasks.Snapshotter and a localtasks.Drainer, so the
// dashboard (package dashboard) and the localtasks command show it as
// they show a pool. Snapshot lists a page of the runs on the backend's
// Config.Queues, in every process, through River's JobList, a group of
// jobs at a time in the pools' order (SCHEDULED, READY, RUNNING, then the
// finished, newest first), with an opaque cursor for the next page; its
// Counts come from one grouped COUNT query over the jobs River keeps on
// those queues, which costs what those jobs number: measured by
// BenchmarkSnapshot on a shared 2-core machine, about 3 ms a page among
// 2,000 jobs and 170 to 230 ms among 200,000 (100,000 ready, 100,000
// finished), nearly all of it the count. READY runs are listed a queue
// and a River priority level at a time, each in the order River starts
// them; River runs carry no tags or metadata, so a Tag or Metadata filter
// lists none. Queues gives each queue's depth (its READY and SCHEDULED
// jobs) and its running jobs, from the same count. Workers lists this
// process's River client, with the runs its workers run now; Counters (and Snapshot.Counters) are this process's,
// kept with atomic counters as it enqueues and as its workers finish runs,
// for no query. Drain waits until no job of the backend's queues (and
// kinds, for a backend with workers) is available, scheduled, retryable or
// running in any process: it is woken by this process's finishes and
// otherwise looks again every DrainRecheck (one second), one bounded
// query a look. None of these adds a query to a run's enqueue, dispatch
// or completion. Snapshot.Closed says Close was called on the backend:
// the dashboard's GET api/health then answers 503, as it does when the
// snapshot fails (the database does not answer); a health check costs one
// Snapshot of one run, so mostly its count, as above.
//
// The backend is no localtasks.IDFinder: FindIDs takes the first hex
// digits of a UUID, and a River run ID is a decimal job ID, short enough
// to give whole, whose leading digits say nothing of which run it is.
//
// # Strikes and pauses
//
// Strikes (Backend.Strike, Restore, Strikes: localtasks.Striker) are kept
// in a table of the adapter's own, localtasks_strike in Config.Schema,
// which Migrate makes; New fails, saying to run Migrate, if it is missing.
// A strike made through any Backend on the schema applies in every process
// on it: an Enqueue, EnqueueMany or EnqueueTx that it matches returns the
// disposition Struck, its run inserted and cancelled in one transaction
// with the strike as reason, and a queued or scheduled run it matches ends
// CANCELLED, without running, when a worker takes it. Each process applies
// them from a copy in memory: an enqueue or a start reads no table for
// them, and costs nothing more while no strike is in force. Strike and
// Restore notify every process (LISTEN/NOTIFY), which rereads the table
// within milliseconds; each also rereads it every five seconds, the bound
// on how stale its copy is should a notification be lost.
//
// Pauses (Backend.Pause, Resume, Pauses: localtasks.Pauser) are River's
// queue pauses (Client.QueuePause), obeyed by every worker on the schema
// within milliseconds by River's notification, or at its next poll of the
// queues should one be lost; a Pause through a Backend with workers
// returns once they have heard. River pauses queues, not tasks: a Pause of
// a task is an error matching errors.ErrUnsupported; give the task a
// queue of its own and pause that. So Capabilities has PauseQueues, which
// the dashboard and the CLI read to offer queue pauses, and not Pause,
// which also promises task pauses and per-queue worker bounds
// (localtasks.Config.QueueWorkers).
//
// Limits are not supported (see Capabilities): an Enqueue with a
// concurrency or rate limit, debounce or cooldown fails with an error
// matching errors.ErrUnsupported.
//
// Config.Middleware wraps every attempt this backend's workers run, as
// localtasks.Config.Middleware does on a pool: on the worker, the first
// outermost, inside the attempt's ctx (TaskID, Attempt, Logger answer) and
// its panic recovery. The Execution's Queue is the job's queue, Priority
// the run's localtasks priority. Without middleware an attempt costs what
// it did: the chain is built only when there is one.
//
// Config.Propagator carries the trace context of each Enqueue to the
// attempts of its job, in whatever process they run, as
// localtasks.Config.Propagator does on a pool: its carrier is kept in the
// job's metadata, and the worker extracts it before its middleware. Give
// every process the same one; the nested module
// github.com/localtasks/localtasks/otel has one for OpenTelemetry.
//
// # Run logs
//
// What a task writes through localtasks.Logger(ctx) goes to Config.Logger
// and is kept on its run, as on a pool: TaskResult.Logs and LogsDropped,
// bounded by Config.RunLogs, the pools' type with their defaults (records
// at slog.LevelInfo and above, up to 200 records or 64 KiB a run, all its
// attempts together; when full, the earlier attempts' records make room
// for the current one's, oldest first, and within an attempt the first
// are kept). They are stored as River's riverlog middleware stores a job's
// logs, by that middleware, so River UI shows them: in the job's metadata
// under "river:log", an entry ({"attempt", "log"}) for each River attempt
// that logged. Its log is JSON lines, a record each: time, level, msg and
// attempt (localtasks' number, which counts snoozes, where the entry's is
// River's), then "cut":true if the message was cut, then the attributes,
// their groups flattened into dotted keys; and, once the run has dropped
// records, a last line {"dropped":n,"msg":...} that counts them. An
// attempt's records are stored with its end (the completion, retry or
// snooze River writes), so a running attempt's are not seen before.
// GetResult, Wait, Watch and events read them from the job, in any
// process; Snapshot's rows leave them out: read a run's with GetResult.
// Each process's workers bound what their attempts write by their own
// Config.RunLogs: give every process the same.
//
// Cost: RunLogs.Off installs nothing. Otherwise each attempt goes through
// riverlog's middleware; an attempt that logs nothing adds no query and no
// metadata, and one that logs adds its records to the update River makes
// as the attempt ends, still no query. Reading a run that logged costs
// parsing its records. Measured by BenchmarkRunLogs (W1's EnqueueMany: 1,000
// runs on 8 workers, each waited for; medians of 6 interleaved runs on a
// loaded, shared 2-core machine), this process's CPU time a run was 281 us
// with RunLogs.Off and 296 us on, for runs that log nothing (the runs of
// each spread over 255-335 us), 6 allocations (300 bytes) a run more; with
// one record a run, 307 us off and 352 us on, 44 allocations (3.8 KiB)
// more. Of that, keeping the record and writing its line costs 4-7 us, and
// reading it back, as Wait does, 7-10 us (BenchmarkRunLogLine).
//
// # Cron and perpetual tasks
//
// Automatic perpetual tasks (localtasks.WithCron, or WithPerpetual with
// Automatic) run as River periodic jobs: name them in Config.Automatic.
// Each becomes a river.PeriodicJob whose kind and ID are the task's name,
// on the task's schedule: its cron expression read in its Location (UTC if
// nil) as the pools read it, its Every, or its Schedule. RunOnStart is
// River's RunOnStart; an Every task's first run starts at once too, as on
// a pool. Each run is a job with the zero argument and the task's default
// options, keyed by the task's name: while one run is unfinished (queued,
// running or waiting for a retry), River skips the next insert, so runs
// never overlap.
//
// Only River's elected leader inserts periodic jobs, from its own memory
// of the schedule. Name the task in Config.Automatic of every backend with
// Workers, so that whichever process leads inserts the runs; any worker
// runs them. A backend with Workers 0 never leads, and New refuses
// Automatic there. A new leader, after a restart or a failover, starts the
// schedule afresh, so a run due during the change may be missed:
// RunOnStart hedges, as River's docs say. River's leader waits on real
// timers: with a test Config.Clock it reads the clock's time, but waits
// in real time.
//
// What differs from a pool's chain: Every is the time from one start to
// the next (River's interval), not from the end of one run to the start
// of the next; runs are independent, so StopPerpetual, SetNextArgs and
// SetNextRun fail in a run, with errors.ErrUnsupported, and a run
// that fails or is cancelled changes nothing in the schedule. An Enqueue
// of a perpetual task fails with an error matching errors.ErrUnsupported
// that says to name it in Config.Automatic; to test one run, and what it
// asks of the next, use localtasks.ImmediateBackend's RunOnce. So
// Capabilities.Perpetual is false: the conformance suite's perpetual cases
// check a chain that River's periodic jobs do not keep.
//
// Results stay as long as River keeps jobs: by default a day for
// completed jobs and a week for cancelled and discarded ones (River's
// job cleaner), after which GetResult reports ErrResultNotFound.
package river
