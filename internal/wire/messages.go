package wire

import "time"

// Kind says what a message is.
type Kind uint8

// The message kinds.
const (
	// KindHello: a worker reached localtasks.Init and is ready, or, with
	// Err set, its worker initialiser failed and it exits (worker to
	// parent).
	KindHello Kind = iota + 1
	// KindRun: run a task (parent to worker).
	KindRun
	// KindCancel: cancel the ctx of a run, started or not (parent to worker).
	KindCancel
	// KindStarted: a run's attempt started (worker to parent).
	KindStarted
	// KindDone: a run's attempt returned (worker to parent).
	KindDone
	// KindLog: a line of output or a log record of a run (worker to parent).
	KindLog
	// KindProgress: a run's progress report (worker to parent).
	KindProgress
	// KindRecall: give the run back if it has not started (parent to
	// worker): another worker is idle.
	KindRecall
	// KindRecalled: the worker gave a run back: it took it off its queue
	// before it started, and never will (worker to parent). A run that had
	// started when the recall came gets no answer: it runs, and ends as
	// any run.
	KindRecalled
	// KindHeartbeat: the worker is alive, and a run is in progress in it
	// (worker to parent); sent every Spec.Heartbeat while a run goes.
	KindHeartbeat
	// KindMetadata: a run set a metadata pair, Meta (worker to parent).
	KindMetadata
	// KindExtend: a run extended its attempt's timeout by Extend (worker
	// to parent).
	KindExtend
	// KindCarrier: the trace context, Carrier, of a run sent with Await,
	// taken from the attempt's ctx once the parent's middleware called
	// next: the worker runs the task now (parent to worker).
	KindCarrier
)

// ToWorker is a message from the parent to a worker.
type ToWorker struct {
	Kind Kind
	Seq  uint64 // the parent's number for the run, unique on this stream

	// KindRun
	ID      string
	Task    string
	Attempt int
	Args    []byte        // the argument, encoded on its own at enqueue (internal/gobcodec)
	Timeout time.Duration // the attempt's timeout, from its start; zero: none
	// Perpetual: the task is perpetual, and may ask for its next run (Next)
	Perpetual bool
	// Eager: report the start at once, before the task runs, and take
	// nothing else meanwhile (the parent sends nothing else): a run
	// suspected of a crash, re-run alone so that a crash is its own.
	Eager bool
	// Await: wait, once started (and reported at once), for the run's
	// KindCarrier or a cancel before running the task: the parent's
	// middleware runs first, and the task's ctx descends from the ctx it
	// passed to next. Only to a worker that said it Propagates.
	Await bool
	// Carrier: the trace context to extract into the task's ctx (KindRun:
	// the run's own, from its Enqueue, when no middleware runs first;
	// KindCarrier); nil for none. Only to a worker that said it
	// Propagates.
	Carrier map[string]string

	// KindCancel: why; a plain Cancel if neither
	TimedOut bool // the attempt's timeout expired
	Closing  bool // the backend is closing
}

// FromWorker is a message from a worker to the parent.
type FromWorker struct {
	Kind Kind
	Seq  uint64

	// KindHello
	PID     int
	Version int
	// Propagates: the worker has a propagator (localtasks.
	// SetWorkerPropagator), and extracts what a run's Carrier holds into
	// its task's ctx.
	Propagates bool

	// KindDone
	Took  int64  // how long the attempt ran in the worker, in nanoseconds
	Value []byte // the result, encoded on its own (internal/gobcodec)
	Err   *Error // nil on success; also KindHello's: the worker initialiser's failure
	Next  *Next  // what a perpetual task asked of its next run; nil for nothing

	// KindProgress: Done and Total, and Line the message
	Done, Total int64

	// KindMetadata: the pair
	Meta Attr

	// KindExtend: by how much
	Extend time.Duration

	// KindLog
	Stream string // "stdout", "stderr" or "log" (a slog record)
	Level  int    // slog level of a "log" record
	Line   string
	Attrs  []Attr
}

// Next is what a perpetual task's run asked of the run that follows it.
type Next struct {
	Stop    bool   // StopPerpetual: no run follows
	At      int64  // SetNextRun: when, in Unix nanoseconds; 0 for unset
	Args    []byte // SetNextArgs: the argument, encoded on its own
	SetArgs bool
}

// Error is a failed attempt, as the worker saw it.
type Error struct {
	Type    string
	Message string
	Stack   string // set for a panic

	Permanent bool // the task returned localtasks.Permanent: no retry
	// Snooze: the task returned localtasks.Snooze or SnoozeUntil, to run
	// again at SnoozeAt (Unix nanoseconds) or after SnoozeFor.
	Snooze    bool
	SnoozeAt  int64
	SnoozeFor time.Duration
	// Matches are the registered errors (localtasks.RegisterErrors,
	// RegisterErrorType) that the error matched in the worker.
	Matches []Match
}

// Match is a registered error an attempt's error matched: a sentinel's
// key, or an error type's key and the matching value gob-encoded.
type Match struct {
	Key   string
	Value []byte // nil for a sentinel
}

// Attr is one attribute of a log record, as text.
type Attr struct {
	Key, Value string
}

// Version is the protocol's version: a parent refuses a worker of another.
const Version = 6
