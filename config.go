package localtasks

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"
)

// MaxResultsDefault is how many finished results a backend keeps unless
// Config.MaxResults says otherwise.
const MaxResultsDefault = 1000

// Config holds the settings every backend shares. Each constructor applies
// the defaults the fields name, then checks the result: a bad setting is an
// error matching ErrConfig, never a silent clamp.
type Config struct {
	// Name makes the backend's state shared: backends built under one Name
	// share one executor and one result store, the way Django builds many
	// backend instances for one alias. The first one built fixes the
	// configuration; building another with a different one is an error
	// matching ErrConfig. The state lives until the last backend of that
	// Name is closed. Empty (the default) means a private state.
	Name string
	// MaxResults bounds how many results of successful runs are kept,
	// least recently used first out. Queued, scheduled and running tasks
	// are never evicted and do not count, nor do the runs that did not
	// succeed: MaxFailedResults bounds those. Defaults to
	// MaxResultsDefault.
	MaxResults int
	// MaxFailedResults bounds how many results of runs that did not
	// succeed, FAILED and CANCELLED ones together, are kept, least
	// recently used first out, in a store of their own: a burst of
	// successes never evicts a failure, nor a burst of failures a success.
	// Runs a strike cancels count here too. Defaults to MaxResults.
	MaxFailedResults int
	// ResultTTL, if set, bounds how long a finished result is kept: it is
	// dropped that long after its run finished, as if evicted, from the
	// journal too, even if MaxResults has room. It costs about 40 bytes a
	// run finished within the last ResultTTL. Defaults to 0: kept until
	// MaxResults or MaxFailedResults evicts it. Every backend of this
	// package takes it; on a RecordingBackend only cancelled runs finish.
	ResultTTL time.Duration
	// MaxQueued bounds the runs waiting to start, READY and SCHEDULED
	// ones together, across the backend's queues: an Enqueue that would
	// queue one more fails at once with ErrQueueFull, and queues nothing,
	// unless the request asks to wait for room (WithWaitForRoom). The runs
	// the backend queues itself (retries, perpetual successors, runs put
	// back after a worker died) are never refused, and may take the count
	// past the bound for a while. 0 (the default) is no bound; an
	// ImmediateBackend, which has no queue, takes none.
	MaxQueued int
	// Queues lists the queue names tasks may be enqueued to; all share the
	// backend's workers. Defaults to just QueueDefault.
	Queues []string
	// QueueWorkers bounds, for the queues it names, how many of the pool's
	// workers run that queue's runs at once, so that a flood of one queue
	// cannot take every worker from the others. A queue it leaves out may
	// take every worker. Priority orders the ready runs across queues; a
	// run whose queue is at its bound waits, READY, without holding up the
	// runs of other queues behind it; on a process pool a run counts from
	// when it is sent to a worker process. Only the pools take it; see
	// docs/scheduling.md.
	QueueWorkers map[string]int
	// Automatic names the automatic perpetual tasks (WithCron, or
	// Perpetual.Automatic) that the backend starts when it is built: one
	// run of each, with the zero argument, once per state; a pool starts
	// such a chain again when its run is cancelled (see Perpetual). Each
	// must be defined by then (a package-level Define is), be automatic,
	// and be on a queue that Queues lists, or the constructor fails with
	// ErrConfig.
	// Defaults to none: no task starts by itself, whatever its queue. An
	// ImmediateBackend takes none; a RecordingBackend records their runs.
	Automatic []string
	// Logger is the logger tasks get from Logger(ctx). Defaults to
	// slog.Default() at the time the backend is built.
	Logger *slog.Logger
	// Middleware wraps every attempt, the first outermost. Defaults to
	// none.
	Middleware []Middleware
	// RunLogs says which of the records a run writes through Logger(ctx)
	// (and, on a process pool, which lines it prints) its TaskResult
	// keeps, in Logs. Defaults to the records at slog.LevelInfo and above,
	// up to RunLogsMaxRecords records or RunLogsMaxBytes bytes a run; a
	// run that writes none costs nothing.
	RunLogs RunLogs
	// Propagator, if set, carries the trace context of each Enqueue to
	// the attempts of the runs it queues: Enqueue and EnqueueMany call its
	// Inject once with their ctx and keep the carrier with each run, and
	// each attempt's ctx goes through its Extract before Middleware sees
	// it, so a tracing middleware's span descends from the span that was
	// active at Enqueue. On a process pool, Middleware and so Extract run
	// in the parent; a worker with a propagator of its own
	// (SetWorkerPropagator) runs the task in the trace context of the ctx
	// the middleware passed to next. The carrier is not journaled: a run
	// resumed after a restart has none. The nested module
	// github.com/localtasks/localtasks/otel has one for OpenTelemetry.
	// Defaults to none, which costs nothing.
	Propagator Propagator
	// Journal, if set, keeps the backend's runs on disk, so that queued
	// runs and finished results survive a restart: a backend built again
	// with the same Name and Journal resumes them. See Journal and
	// docs/durability.md. Only the pools take one, and only with a Name.
	// Defaults to none: runs live in memory only.
	Journal Journal
	// JournalMode says when Enqueue returns on a backend with a Journal:
	// once its run is on disk (JournalDurable, the default), or at once
	// (JournalBatched).
	JournalMode JournalMode
	// JournalWindow is how often a JournalBatched backend commits, and so
	// the most a crash can lose. Defaults to JournalWindowDefault.
	JournalWindow time.Duration
	// Test holds settings for tests; leave it zero in production.
	Test TestConfig
}

// TestConfig holds the settings of a Config that are for tests.
type TestConfig struct {
	// Clock is the source of time for run-after times, retry delays and
	// timeouts; a test injects a localtaskstest.FakeClock to move time on
	// without sleeping. Defaults to the system clock.
	Clock Clock
	// RunAtMost bounds how many runs of each named perpetual task finish
	// before its chain ends, so that Drain returns. Defaults to no bound.
	RunAtMost map[string]int
}

// maxQueues bounds Config.Queues: a record holds its queue as a uint16.
const maxQueues = 1 << 16

// withDefaults returns a copy of c with every default applied.
func (c Config) withDefaults() Config {
	c.MaxResults = cmp.Or(c.MaxResults, MaxResultsDefault)
	c.MaxFailedResults = cmp.Or(c.MaxFailedResults, c.MaxResults)
	if len(c.Queues) == 0 {
		c.Queues = []string{QueueDefault}
	}
	c.Automatic = slices.Clone(c.Automatic)
	c.QueueWorkers = maps.Clone(c.QueueWorkers)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.RunLogs.MaxRecords = cmp.Or(c.RunLogs.MaxRecords, RunLogsMaxRecords)
	c.RunLogs.MaxBytes = cmp.Or(c.RunLogs.MaxBytes, RunLogsMaxBytes)
	c.Test.Clock = cmp.Or(c.Test.Clock, Clock(systemClock{}))
	c.Test.RunAtMost = maps.Clone(c.Test.RunAtMost)
	if c.Journal != nil && c.JournalMode == JournalBatched {
		c.JournalWindow = cmp.Or(c.JournalWindow, JournalWindowDefault)
	}
	return c
}

// validate checks c, as withDefaults returned it, for a backend of kind.
func (c Config) validate(kind string) error {
	if len(c.Queues) > maxQueues {
		return configError(kind, "%d queues are listed, more than the %d a backend takes: group tasks into fewer queues", len(c.Queues), maxQueues)
	}
	for i, q := range c.Queues {
		if q == "" {
			return configError(kind, "queue name %d is empty: give every queue a name", i)
		}
		if slices.Index(c.Queues, q) != i {
			return configError(kind, "queue %q is listed twice: list each queue once", q)
		}
	}
	for _, q := range slices.Sorted(maps.Keys(c.QueueWorkers)) {
		switch n := c.QueueWorkers[q]; {
		case kind != "threadpool" && kind != "procpool":
			return configError(kind, "QueueWorkers is for the thread and process pools, whose workers queues share: leave it out")
		case !slices.Contains(c.Queues, q):
			return configError(kind, "QueueWorkers names queue %q, which is not one of Queues %q: add it to Queues, or leave it out of QueueWorkers", q, c.Queues)
		case n < 1:
			return configError(kind, "QueueWorkers[%q] is %d, below 1: use 1 or more, or leave the queue out to let it take every worker", q, n)
		}
	}
	if err := checkAutomatic(kind, c.Automatic, c.Queues); err != nil {
		return err
	}
	for i, m := range c.Middleware {
		if m == nil {
			return configError(kind, "Middleware %d is nil: remove it", i)
		}
	}
	for name, n := range c.Test.RunAtMost {
		if n < 1 {
			return configError(kind, "Test.RunAtMost[%q] is %d, below 1: use 1 or more, or leave the task out", name, n)
		}
	}
	if c.ResultTTL < 0 {
		return configError(kind, "ResultTTL %v is negative: use 0 to keep results until MaxResults evicts them", c.ResultTTL)
	}
	if c.MaxResults < 0 {
		return configError(kind, "MaxResults %d is negative: use 0 for the default of %d", c.MaxResults, MaxResultsDefault)
	}
	if c.MaxFailedResults < 0 {
		return configError(kind, "MaxFailedResults %d is negative: use 0 to keep as many failed and cancelled results as MaxResults", c.MaxFailedResults)
	}
	if c.JournalMode > JournalBatched {
		return configError(kind, "JournalMode %d is unknown: use JournalDurable or JournalBatched", c.JournalMode)
	}
	if c.JournalWindow < 0 {
		return configError(kind, "JournalWindow %v is negative: use 0 for the default of %v", c.JournalWindow, JournalWindowDefault)
	}
	if c.RunLogs.MaxRecords < 0 || c.RunLogs.MaxBytes < 0 {
		return configError(kind, "RunLogs.MaxRecords %d or MaxBytes %d is negative: use 0 for the defaults of %d and %d, or RunLogs.Off to keep none",
			c.RunLogs.MaxRecords, c.RunLogs.MaxBytes, RunLogsMaxRecords, RunLogsMaxBytes)
	}
	if c.MaxQueued < 0 {
		return configError(kind, "MaxQueued %d is negative: use 0 for no bound", c.MaxQueued)
	}
	return nil
}

// configError is the error of a bad setting of a backend of kind.
func configError(kind, format string, args ...any) error {
	return fmt.Errorf("localtasks: %s config: %s: %w", kindName(kind), fmt.Sprintf(format, args...), ErrConfig)
}

// kindName is how messages name a kind of backend: "process pool".
func kindName(kind string) string {
	switch kind {
	case "threadpool":
		return "thread pool"
	case "procpool":
		return "process pool"
	case "immediate":
		return "immediate backend"
	case "recording":
		return "recording backend"
	}
	return kind
}

// label is how messages name the backend: `backend "reports"` for a named
// one, and for an unnamed one its kind, "the thread pool", never
// `backend ""`.
func (a settings) label() string {
	return backendLabel(a.kind, a.cfg.Name)
}

// backendLabel is settings.label of a backend of kind named name; kind ""
// for one of another package (backendkit.CheckRequest).
func backendLabel(kind, name string) string {
	switch {
	case name != "":
		return fmt.Sprintf("backend %q", name)
	case kind == "":
		return "the backend"
	}
	return "the " + kindName(kind)
}

// settings are what backends of one Name must agree on: the kind, the
// workers, the Config with its defaults applied, and a kind's own settings.
type settings struct {
	kind    string
	workers int
	cfg     Config
	extra   any // a kind's own settings, comparable
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
	ac, bc := &a.cfg, &b.cfg
	switch {
	case a.kind != b.kind:
		return fmt.Sprintf("it is a %s, this one is a %s", kindName(a.kind), kindName(b.kind))
	case a.workers != b.workers:
		return fmt.Sprintf("it has MaxWorkers %d, this one asks for %d", a.workers, b.workers)
	case ac.ResultTTL != bc.ResultTTL:
		return fmt.Sprintf("it has ResultTTL %v, this one asks for %v", ac.ResultTTL, bc.ResultTTL)
	case ac.MaxResults != bc.MaxResults:
		return fmt.Sprintf("it has MaxResults %d, this one asks for %d", ac.MaxResults, bc.MaxResults)
	case ac.MaxFailedResults != bc.MaxFailedResults:
		return fmt.Sprintf("it has MaxFailedResults %d, this one asks for %d", ac.MaxFailedResults, bc.MaxFailedResults)
	case ac.MaxQueued != bc.MaxQueued:
		return fmt.Sprintf("it has MaxQueued %d, this one asks for %d", ac.MaxQueued, bc.MaxQueued)
	case !slices.Equal(ac.Queues, bc.Queues):
		return fmt.Sprintf("it has Queues %q, this one asks for %q", ac.Queues, bc.Queues)
	case !maps.Equal(ac.QueueWorkers, bc.QueueWorkers):
		return fmt.Sprintf("it has QueueWorkers %v, this one asks for %v", ac.QueueWorkers, bc.QueueWorkers)
	case !slices.Equal(ac.Automatic, bc.Automatic):
		return fmt.Sprintf("it has Automatic %q, this one asks for %q", ac.Automatic, bc.Automatic)
	case !sameValue(ac.Journal, bc.Journal):
		return "it has another Journal"
	case ac.JournalMode != bc.JournalMode || ac.JournalWindow != bc.JournalWindow:
		return fmt.Sprintf("it has JournalMode %d and JournalWindow %v, this one asks for %d and %v", ac.JournalMode, ac.JournalWindow, bc.JournalMode, bc.JournalWindow)
	case ac.Logger != bc.Logger:
		return "it has another Logger"
	case ac.RunLogs != bc.RunLogs:
		return fmt.Sprintf("it has RunLogs %+v, this one asks for %+v", ac.RunLogs, bc.RunLogs)
	case !sameValue(ac.Test.Clock, bc.Test.Clock):
		return "it has another Test.Clock"
	case !slices.Equal(pointers(ac.Middleware), pointers(bc.Middleware)):
		return "it has other Middleware"
	case !sameValue(ac.Propagator, bc.Propagator):
		return "it has another Propagator"
	case !maps.Equal(ac.Test.RunAtMost, bc.Test.RunAtMost):
		return fmt.Sprintf("it has Test.RunAtMost %v, this one asks for %v", ac.Test.RunAtMost, bc.Test.RunAtMost)
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
