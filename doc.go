// Package localtasks runs background tasks inside one Go program, with no
// infrastructure: no broker, no database, no second service to deploy.
//
// # Common tasks
//
// Each has a runnable example, with its output: run it with go test -run
// and the example's name, or read it on pkg.go.dev under the name linked.
//
//   - Enqueue from an HTTP handler, answer 202 with the run's ID, and serve
//     the outcome by that ID in a later request: Example_handler, the
//     package's example.
//   - Fetch a run's result by its ID: ExampleTask_GetResult, under
//     [Task.GetResult]; enqueue and wait: ExampleTask_Enqueue, under
//     [Task.Enqueue].
//   - Retry a failed attempt with exponential backoff: ExampleWithRetry,
//     under [WithRetry].
//   - Run a task on a cron schedule: ExampleWithCron, under [WithCron];
//     on a schedule of your own: ExampleSchedule, under [Schedule].
//   - Tag runs, attach metadata, and list the runs of one tag:
//     ExampleWithTags, under [WithTags].
//   - CPU-bound work on a pool of worker processes: ExampleNewProcessPool,
//     under [NewProcessPool].
//   - Enqueue a batch, all or none: ExampleTask_EnqueueMany; pause a queue,
//     and a deadline that passes while it is paused:
//     ExampleThreadPoolBackend_Pause.
//   - Keep failures apart from successes, and keep no result of a task
//     whose callers never read one: Example_retention, under the package's
//     examples ([Config.MaxFailedResults], [WithDiscardResult]).
//   - From inside a task: fail for good, ExamplePermanent; retry by the
//     error, ExampleRetryPolicy_decide; run again later without spending an
//     attempt, ExampleSnooze; take longer, ExampleExtendTimeout; keep an
//     error's identity across the process pool, ExampleRegisterErrors.
//   - Follow one run's status and progress until it ends, as a progress
//     bar does: ExampleHandle_Watch, under [Handle.Watch]; read what a run
//     logged: ExampleTaskResult_logs, under [TaskResult].
//   - Tests: ExampleNewImmediate, under [NewImmediate] (each run finishes
//     inside Enqueue), and ExampleNewRecording, under [NewRecording] (runs
//     recorded, none run); run recorded runs on demand,
//     ExampleRecordingBackend_RunAll; call a task's function directly,
//     ExampleTask_Call.
//
// # Overview
//
// Use localtasks if you want to hand work off from a request to the
// background, answer at once with an ID, and fetch the outcome later by that
// ID; and if you want the things a goroutine pool does not give you, namely
// priorities, run-after times, retries with backoff, timeouts, cancellation,
// stored results and events, without running Redis or Postgres for them. It
// is the shape of Django 6's task framework, with typed Go tasks: the
// compiler checks the arguments and results, not a serializer at run time.
//
// Runs and results live in memory, in the program's own process (not in a
// process pool's workers): they are lost when it exits, unless the pool has
// a Journal (Config.Journal; the sqlitejournal module keeps one on SQLite),
// which a pool built again under the same Name resumes. Reach for a job
// queue with a database server (River, through the adapters/river module)
// when runs must be shared between machines.
//
// # Defining tasks
//
// A task is a function of a ctx and one argument that returns one result or
// an error (a Func). Define registers it under a stable name, with default
// options, and returns a typed *Task:
//
//	type ResizeArgs struct {
//		Path  string
//		Width int
//	}
//
//	var Resize = localtasks.Define("images.resize",
//		func(ctx context.Context, a ResizeArgs) (string, error) {
//			return resize(ctx, a.Path, a.Width)
//		},
//		localtasks.WithTimeout(30*time.Second),
//	)
//
// Use a struct for several arguments, and struct{} for none. Define tasks
// once, at package level: the process pool's workers find them there by
// name (see Process pool). Names are process-wide and must be unique: Define
// panics on an empty name, on a name already taken (naming the file and line
// of both definitions), on a nil function, and on invalid default options.
// NewTask is
// the same but returns an error wrapping ErrInvalidTask, for tasks defined at
// run time. Lookup and Names read the registry. A task is identified by its
// name, never by a reflected type name, so renaming the Go function does not
// change it.
//
// A *Task is immutable and safe for concurrent use.
//
// # Enqueueing and results
//
// Task.Enqueue validates a run and queues it on a Backend, and returns at
// once with a Handle. On error nothing was queued: a priority out of range, a
// queue the backend does not have, an option the backend does not support,
// an already-cancelled ctx, a closed backend.
//
//	h, err := Resize.Enqueue(ctx, pool, ResizeArgs{Path: "cat.jpg", Width: 640})
//	if err != nil {
//		return err
//	}
//	id := h.ID() // a UUID string: send it to the client, store it
//
// A Handle is a small value: its ID and its backend; the methods of a zero
// Handle return an error matching ErrResultNotFound. Handle.Wait blocks until
// the run has finished (or its own ctx ends) and returns the typed value of a
// SUCCESSFUL run, the last attempt's *TaskError for a FAILED one, or an error
// matching ErrCancelled for a CANCELLED one. Handle.Status, Handle.Result and
// Handle.Cancel read and cancel the run without waiting. The ctx given to
// Enqueue only bounds the enqueue itself; the task's own ctx is separate (see
// Inside a task).
//
// Later, perhaps in another request, turn the ID back into a typed Handle
// with Task.GetResult, or read the untyped snapshot with Backend.GetResult:
//
//	h, err := Resize.GetResult(ctx, pool, id)     // ErrResultMismatch if id is another task's run
//	res, err := pool.GetResult(ctx, id)           // a TaskResult
//	path, err := localtasks.Value[string](res)    // its typed value, or its error
//
// An unknown or malformed ID, or one whose result has been evicted, gives an
// error matching ErrResultNotFound.
//
// A TaskResult is a snapshot: the run's ID, task name, backend, queue and
// priority, Status, the times it was enqueued, may run after, first started,
// last attempted and finished, the number of attempts and the worker of
// each, its argument, its value, one TaskError per failed attempt, and why it
// was cancelled. A TaskError keeps the error's Go type and message, and the
// stack where a task panicked; it unwraps to the error the task returned, so
// errors.Is and errors.As see through it.
//
// A run moves through the statuses
//
//	SCHEDULED → READY → RUNNING → SUCCESSFUL | FAILED | CANCELLED
//
// and from RUNNING back to READY or SCHEDULED when a failed attempt is
// retried. docs/design.md has the full state machine.
//
// Each backend keeps the results of its finished runs in a store bounded by
// Config.MaxResults (MaxResultsDefault, 1000) for the successful ones and
// Config.MaxFailedResults (by default as many) for the failed and cancelled
// ones, each least recently used first out, so that successes never evict a
// failure; reading a result refreshes it. Config.ResultTTL bounds their age,
// and WithDiscardResult keeps none of a run once it has finished. Runs that
// have not finished are kept apart and are never evicted, however many there
// are. docs/operations.md#retention has the rules.
//
// # Backends
//
// A Backend runs tasks and keeps their results. All of its methods are safe
// for concurrent use. The package has four:
//
//   - ThreadPoolBackend (NewThreadPool) runs tasks on a fixed pool of
//     goroutines, ThreadPoolConfig.MaxWorkers of them
//     (ThreadPoolMaxWorkersDefault, 10), for I/O-bound work. Idle workers
//     sleep until a task is queued; scheduled tasks wait on a single timer.
//     It supports everything: run-after times, priorities, retries,
//     timeouts, and cancelling queued and running tasks.
//   - ProcessPoolBackend (NewProcessPool) runs tasks in worker processes
//     started from the program's own binary, for CPU-bound work. It supports
//     everything the thread pool does, and needs Init first in main; see
//     Process pool.
//   - ImmediateBackend (NewImmediate) runs each task in the goroutine that
//     enqueues it, before Enqueue returns. For tests and scripts. Cancel is
//     not a capability: a run has finished by the time its ID is known, so
//     Cancel reports ErrFinished.
//   - RecordingBackend (NewRecording) accepts tasks and never runs them.
//     For tests that check what code enqueues.
//
// The same task code runs on any of them: switching between the thread pool
// and the process pool changes only the backend.
// Backends outside this package, such as the River adapter in
// adapters/river, are built on package backendkit, which holds what only
// they need.
//
// Capabilities says what a backend supports, like Django's supports_* flags.
// Enqueue refuses a request that needs something the backend lacks with an
// error matching errors.ErrUnsupported, before anything is queued.
//
// Backend.Enqueue, which Task.Enqueue calls, returns a Receipt: the run's
// ID and its Disposition (see Scheduling). The Options it is given are the
// run's whole options: the task's defaults are not applied over them again,
// so code that calls it directly starts from Definition.Options
// (Task.Enqueue passes the task's options).
//
// Config holds the settings every backend shares: Name (see Named state),
// MaxResults, Queues, Logger and Middleware, each documented with its
// default, and under Test (a TestConfig) the settings for tests, Clock and
// RunAtMost. Invalid configuration is an error matching
// ErrConfig, from the constructor; nothing is silently clamped.
//
// Close stops a backend. When the last backend of a state closes, queued and
// scheduled runs end CANCELLED at once, and running ones may finish until the
// ctx given to Close ends; then they are cancelled too, marked CANCELLED, and
// Close returns an error matching the ctx's error. A failed attempt is not
// retried while the backend closes. Every run is left in a final status that
// GetResult still reports after Close, and Enqueue on a closed backend fails
// with ErrClosed. Closing twice is not an error. A task that ignores its ctx
// keeps its goroutine until it returns; when the last Close returns nil,
// every worker goroutine has exited. On a process pool, the worker processes
// still running when the ctx ends are killed, and none outlives Close.
//
// # Process pool
//
// ProcessPoolBackend runs tasks in worker processes: the program's own
// binary, started again ProcessPoolConfig.MaxWorkers times (by default
// runtime.NumCPU()) and kept alive between tasks. A task's allocations, its
// garbage and its crashes stay in its worker. The program must call Init as
// the first statement of main, and of TestMain in tests. In a worker, Init
// serves tasks and never returns; in the program itself it returns at once:
//
//	func main() {
//		localtasks.Init()
//
//		procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{})
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer procs.Close(context.Background())
//		...
//	}
//
// Without Init, NewProcessPool fails within ProcessPoolConfig.StartTimeout,
// with an error that says to add it. A worker finds a task by its name in the
// registry, so tasks must be defined at package level.
//
// Arguments are gob-encoded at Enqueue, which refuses with ErrInvalidTask an
// argument gob cannot encode, or one above ProcessPoolConfig.MaxFrameBytes,
// and, from a task's first Enqueue on a process pool, a task whose argument
// or result type gob cannot carry whole (a func or chan field, which gob
// would drop) or that was defined after Init;
// results are decoded into the task's result type in the parent. A TaskError
// from a worker keeps the error's type name, message and stack, but not the
// error value: errors.Is and errors.As do not see a task's own errors through
// it.
//
// A run is RUNNING only once its worker reports that it has started it. A
// worker that dies (os.Exit, a crash, a signal, its MemoryLimit) fails the
// attempt it was running with a *WorkerExitError, and is replaced; the runs it
// had been sent but not started go back to the queue. A timeout or Cancel
// cancels the task's ctx in the worker, and kills the worker if the task has
// not returned ProcessPoolConfig.CancelGrace later, with the worker's process
// group: the programs a task starts die with its worker, unless they leave
// the group (SysProcAttr Setsid). A worker that sends nothing for
// ProcessPoolConfig.LivenessTimeout while it has tasks in flight is killed
// and replaced. What a task prints, and
// what it logs with Logger(ctx), reaches the pool's Config.Logger tagged
// with the task, and is kept on the run's TaskResult.Logs. Middleware runs in the parent, around the remote attempt.
//
// The process pool runs on Unix systems; elsewhere NewProcessPool returns an
// error matching errors.ErrUnsupported. docs/process-pool.md has the details:
// the window of tasks sent ahead to each worker, every configuration field,
// and what happens on each fault.
//
// # Named state
//
// Backends built with the same Config.Name share one state: one ready queue,
// one set of workers and one result store, the way Django builds many backend
// instances for one alias. A run enqueued through one can be fetched,
// waited on and cancelled through another:
//
//	a, _ := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "emails"}})
//	b, _ := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "emails"}})
//	// a and b share workers and results.
//
// The first backend built under a name fixes the configuration; building
// another of that name with a different kind, MaxWorkers, MaxResults,
// Queues, Logger, Middleware, Test.Clock or Test.RunAtMost (or, for a
// process pool, any other ProcessPoolConfig field) fails with an error matching ErrConfig
// that says what differs. Closing one backend releases only its own hold: the
// state shuts down when the last of them is closed, and a new backend of that
// name then starts afresh. An empty Name, the default, gives a private state.
//
// # Options: priority, queues, run-after, timeouts, retries
//
// Options are the settings of a run. Define takes the task's defaults, and
// Task.Using returns a copy of the task with some of them overridden, like
// Django's task.using(); the original is unchanged:
//
//	urgent := Resize.Using(
//		localtasks.WithPriority(50),
//		localtasks.WithQueue("interactive"),
//	)
//	h, err := urgent.Enqueue(ctx, pool, args)
//
// The options are:
//
//   - WithPriority: from MinPriority (-100) to MaxPriority (100), default 0.
//     Ready runs start highest priority first, first in first out within a
//     priority.
//   - WithQueue: a name that must be one of the backend's Config.Queues
//     (default just QueueDefault, "default"). Queues are labels that
//     Enqueue validates and results report; every queue shares the
//     backend's workers and one priority order.
//   - WithRunAt and WithDelay: the earliest time the run may start, as a
//     time or as a delay after the enqueue. Each clears the other. A run
//     with a future start is SCHEDULED until then.
//   - WithTimeout: a bound on each attempt. When it passes, the attempt's
//     ctx is cancelled; if the task then returns an error, the attempt
//     fails with an error matching ErrTimeout and context.DeadlineExceeded
//     that wraps what the task returned. A task that returns a value and
//     no error despite the timeout has done its work, and succeeds.
//   - WithRetry: a RetryPolicy, how many attempts in all and how long to
//     wait before each retry. FixedRetry waits the same each time;
//     ExponentialRetry doubles the wait up to a cap, with jitter. The zero
//     policy makes one attempt. A run is not retried once cancelled, nor
//     while its backend closes; panics and timeouts are retried like errors.
//
// Options are validated at Enqueue, so an invalid Using is reported there.
//
// # Inside a task
//
// A task runs with a ctx of its own, made afresh for each attempt: it does not
// descend from the ctx given to Enqueue, because a task outlives the request
// that enqueued it. The attempt's ctx is cancelled by Handle.Cancel or
// Backend.Cancel, by a Close that runs out of time, and by the attempt's
// timeout; a task should return promptly once ctx.Done() is closed. It need
// not say why it stopped: the backend knows, and records the outcome. A
// cancelled run ends CANCELLED whatever the task returns, and an attempt that
// returns an error after its timeout fails with an error matching ErrTimeout.
// ctx.Deadline reports the attempt's timeout.
//
// ctx.Err() is context.DeadlineExceeded after the timeout, and
// context.Canceled otherwise. To learn why the ctx ended, call Cause:
// context.Cause cannot see the cause of a task's ctx, while Cause(ctx)
// returns ErrCancelled (Cancel), ErrClosed (a Close that ran out of time) or
// an error matching ErrTimeout, for the attempt's ctx, and for a ctx derived
// from it once the attempt's ctx is done.
//
// The ctx also answers questions about the run:
//
//   - TaskID: the run's ID, as Enqueue returned it.
//   - TaskName: the task's name.
//   - Attempt: the number of this attempt, from 1.
//   - Logger: the backend's Config.Logger with the attributes task, task_id
//     and attempt. What the task writes through it is also kept on the
//     run's TaskResult.Logs, bounded by Config.RunLogs (200 records or
//     64 KiB a run by default): ExampleTaskResult_logs.
//
// Outside a task they return "", "", 0 and slog.Default(). Contexts derived
// from the task's ctx answer them too.
//
// A panic in a task is recovered and fails the attempt like an error: its
// TaskError holds the panic value's type and text, and the stack.
//
// SetProgress reports how far the task has got (done of total units, and a
// message): the latest report is on the run's TaskResult.Progress and in an
// EventProgress, from a worker process of a ProcessPoolBackend too.
// SetMetadata adds a key-value pair to the run's TaskResult.Metadata, next
// to what WithMetadata and WithTags gave it at enqueue (see
// docs/scheduling.md, "Tags and metadata").
//
// # Scheduling
//
// The scheduling features of Docket are options and backend methods too.
// WithKey makes a run unique within its task while it is unfinished, and
// Task.Replace swaps a waiting run of a key for a new one; the Receipt that
// Backend.Enqueue returns, and Handle.Disposition, say what became of a
// request: Enqueued, AlreadyEnqueued, Replaced, Struck or Dropped. A Strike
// blocks a task's runs, or those whose argument has a field that compares
// with a value, at enqueue and again before each attempt, until Restore
// lifts it. WithPerpetual and WithCron make a task reschedule itself, on an
// interval, a cron expression in a time zone, or a Schedule of your own;
// StopPerpetual, SetNextRun and SetNextArgs steer it from inside; an
// automatic one starts with the backends whose Config.Automatic names it,
// and no others, and a pool starts it again if its run is cancelled, until
// a strike or StopPerpetual ends it (see Perpetual). CronTimes lists
// the times an expression names, and RunOnce on the immediate and recording
// backends runs one run of a perpetual task in a test. WithConcurrencyLimit,
// WithRateLimit, WithDebounce and WithCooldown limit a task's runs, over all
// of them or per value of a field of the argument. Every backend of this
// package is a Controller: a Backend that is also a Subscriber, a Striker
// (Strike, Restore, Strikes), a Snapshotter (Snapshot, Counters), a
// Drainer (Drain), an IDFinder (FindIDs: runs by the first 8 or more
// hex digits of their IDs), a Pauser (Pause, Resume, Pauses), a
// BatchEnqueuer (EnqueueMany) and a Watcher (Watch: one run's changes), the
// optional interfaces that code taking a Backend can check for. Config.Test.RunAtMost ends perpetual chains in tests, so that
// Drain returns. Capabilities.Limits and
// Capabilities.Perpetual say which backends take limits and perpetual
// tasks; docs/scheduling.md has the rules.
//
// # Flow control
//
// Task.EnqueueMany enqueues a batch, all or none. WithDeadline and
// WithStartWithin cancel a run that has not started in time. A pool's
// queues may each have a share of its workers (Config.QueueWorkers), so that
// a flood of one queue cannot starve the others, and a queue or a task can
// be paused and resumed (Pauser) without cancelling anything. The pools
// resize at run time (Resizer). docs/flow-control.md has the rules.
//
// # Events and middleware
//
// Subscribe, on every backend, returns a Subscription that reads an Event
// for each thing that happens to any run of the backend's state:
// EventEnqueued when Enqueue accepts it, EventStarted at the start of each
// attempt, EventFinished when it reaches its final status. Each event
// carries a TaskResult snapshot taken right after it happened, and the events
// of any one run arrive in order.
//
//	sub := pool.Subscribe(256)
//	defer sub.Close()
//	go func() {
//		for ev := range sub.C() {
//			log.Printf("%s %s %s", ev.Kind, ev.Result.Task, ev.Result.Status)
//		}
//	}()
//
// Delivery never blocks the pool, and costs it the same whatever the number
// of subscribers: the state writes each event once, into one ring that every
// subscription reads at its own pace, with C or with Read and Ready. A
// subscription that falls more than its buffer behind the newest event (zero
// or less means SubscribeBufferDefault, 1024) skips the oldest it has not
// read, and counts them in Subscription.Dropped; the ring grows to the
// largest buffer only while a subscriber is that far behind. C is closed by
// Subscription.Close, and when the backend's state shuts down, once the
// events before are delivered; a Subscribe after that returns a subscription
// that is already closed.
//
// Config.Middleware wraps every attempt of every task a backend runs, for
// logging, metrics or tracing. A Middleware gets the attempt's ctx and an
// Execution (ID, task name, attempt, queue, priority, argument), and must call
// next to run the attempt, or return an error instead. The first middleware
// is the outermost. Middleware runs on the worker, inside the attempt's ctx
// and its panic recovery. On a process pool it runs in the parent process,
// around the remote attempt: next returns the worker's outcome.
// Config.Propagator carries a trace context from each Enqueue to the
// attempts of its runs, so that a tracing middleware links them, and
// SetWorkerPropagator carries the attempt's into a process-pool worker's
// task; a Propagator that is an EnqueueTracer also traces each enqueue. The
// nested module github.com/localtasks/localtasks/otel has them for
// OpenTelemetry (see docs/operations.md, "Tracing").
//
// # Testing
//
// Build the backend where the program starts and pass it down as a Backend,
// so that tests can hand the same code another one:
//
//   - ImmediateBackend runs each task inline, so the run has finished by
//     the time Enqueue returns, and a test needs no waiting. Retries run
//     back to back without their delays; run-after times are refused, as
//     it cannot defer (Capabilities.Defer is false).
//   - RecordingBackend runs nothing. RecordingBackend.Recorded lists every
//     run enqueued, in order, with its task name, argument, queue, priority
//     and run-after time; Clear forgets them. Its Wait fails at once, with
//     an error matching errors.ErrUnsupported, for a run that has not
//     finished, instead of hanging.
//   - Config.Test.Clock takes a Clock, the source of time for run-after
//     times, retry delays and timeouts, so that a test can move time on
//     without sleeping (localtaskstest.FakeClock).
//
// A state's goroutines have all exited once the Close of its last backend
// returns nil, so tests can check for leaks with go.uber.org/goleak. Task names are
// process-wide: give the tasks of each test its own names.
package localtasks
