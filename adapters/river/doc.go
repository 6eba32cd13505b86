// Package river is a localtasks.Backend on River
// (github.com/riverqueue/river) and PostgreSQL: the same task definitions
// that run on a goroutine pool in development run as River jobs on any
// number of machines in production, by changing one constructor.
//
// Its name is River's own, so a program that imports both, for
// Backend.Client or River's periodic jobs, imports this package under
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
// EnqueueMany (localtasks.BatchEnqueuer, Task.EnqueueMany) inserts its
// runs with River's InsertMany, in one transaction and one statement: all
// or none. Wait hears at once of the runs this process's workers finish,
// and takes their final job from River's subscription without reading it
// again; the other processes hear of them by LISTEN/NOTIFY, one
// notification for the runs that finish within a few milliseconds.
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
// lists none. Workers lists this process's River client, with the runs
// its workers run now; Counters (and Snapshot.Counters) are this process's,
// kept with atomic counters as it enqueues and as its workers finish runs,
// for no query. Drain waits until no job of the backend's queues (and
// kinds, for a backend with workers) is available, scheduled, retryable or
// running in any process: it is woken by this process's finishes and
// otherwise looks again every DrainRecheck (one second), one bounded
// query a look. None of these adds a query to a run's enqueue, dispatch
// or completion.
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
// Limits and perpetual tasks are not supported (see Capabilities): an
// Enqueue with WithPerpetual or WithCron, and so with a Schedule or
// RunOnStart, fails with an error matching errors.ErrUnsupported. Use
// River's periodic jobs through Backend.Client for schedules:
// river.NewPeriodicJob takes a river.PeriodicSchedule, which a
// localtasks.Schedule is too (both are a Next(time.Time) time.Time
// method), and river.PeriodicJobOpts has RunOnStart.
//
// Results stay as long as River keeps jobs: by default a day for
// completed jobs and a week for cancelled and discarded ones (River's
// job cleaner), after which GetResult reports ErrResultNotFound.
package river
