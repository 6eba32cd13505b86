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
// again; the other processes hear of them by LISTEN/NOTIFY, one
// notification for the runs that finish within a few milliseconds.
//
// Watch (localtasks.Watch, Handle.Watch) follows one run: it hears at once
// of what this process's workers do and of a finish in any process, and
// reads the job every Config.WatchPollInterval for the start and progress
// of a run that another process runs, which River announces to no one.
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
