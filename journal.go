package localtasks

import (
	"context"
	"errors"
	"time"
)

// Journal keeps a backend's runs on disk, so that queued runs and finished
// results survive a restart of the program, or its crash: see
// Config.Journal and docs/durability.md. The backend calls it; programs
// only open one (the module github.com/localtasks/localtasks/sqlitejournal
// has one on SQLite) and pass it in the Config.
//
// The backend makes all its calls from one goroutine at a time: Open once,
// then Load once, as it starts, then Commit, batch after batch, until it
// closes. It never calls Close: the program that opened the journal closes
// it, after the backend.
//
// A journal holds the runs of one backend Name, and its format is the
// backend's: both are fixed by the first Open of a new journal.
type Journal interface {
	// Open claims the journal for the backend named backend, which
	// writes runs in the given format. A new journal records both and
	// returns (format, nil). An existing one returns the format it holds,
	// or an error if it holds another backend's runs.
	Open(ctx context.Context, backend string, format int) (int, error)
	// Load calls run with each run the journal holds, and strike with each
	// strike in force, in any order; it stops at the first error they
	// return, and returns it. The JournalRun is valid only during the
	// call.
	Load(ctx context.Context, run func(*JournalRun) error, strike func(*JournalStrike) error) error
	// Commit writes a batch in one transaction, all of it or none, and
	// returns once it is on stable storage (fsync'ed): a run in it
	// survives a crash of the program or of the machine once Commit has
	// returned nil. Within a batch, Runs are written before Deleted are
	// removed.
	Commit(ctx context.Context, b *JournalBatch) error
}

// JournalFormat is the format of the runs this version of the package
// writes to a journal (the JournalRun fields and the encoding of Detail).
// A journal in another format is refused when the backend opens.
const JournalFormat = 1

// JournalBatch is one transaction of a journal: the runs that changed since
// the last one, each as its latest whole row, the runs to forget, and the
// strikes put in force or lifted.
type JournalBatch struct {
	// Runs are the rows to write, replacing the rows of the same ID.
	Runs []JournalRun
	// Deleted are the IDs of runs to remove: finished runs the result store
	// dropped (Config.MaxResults).
	Deleted []string
	// Strikes are the strikes to keep, and those to remove (Lifted), by
	// Key.
	Strikes []JournalStrike
}

// JournalRun is one run as the journal keeps it. The columns a person may
// want to query (status, task, queue, times) are fields of their own; the
// rest of the run is Detail.
type JournalRun struct {
	ID       string
	Task     string
	Queue    string
	Status   Status
	Priority int
	// Key is the run's key (WithKey, or a perpetual task's), or "".
	Key string
	// Attempts counts the attempts started.
	Attempts int
	// EnqueuedAt, RunAfter and FinishedAt are the run's times; zero when
	// unset.
	EnqueuedAt, RunAfter, FinishedAt time.Time
	// Args is the argument, and Value a successful run's value, encoded
	// with the task's codec (gob, as for a process pool).
	Args, Value []byte
	// Detail is the rest of the run: its options, errors, workers and
	// reason for a cancel, encoded by the backend (JSON).
	Detail []byte
}

// JournalStrike is a strike as the journal keeps it.
type JournalStrike struct {
	// Key identifies the strike: its String().
	Key string
	// Data is the strike, encoded by the backend (JSON).
	Data []byte
	// Lifted, in a batch, says to remove the strike.
	Lifted bool
}

// JournalMode says when Enqueue returns on a backend with a journal.
type JournalMode uint8

const (
	// JournalDurable (the default) returns from Enqueue once the run is on
	// disk: the commit that holds it has been synced. Enqueues at the same
	// time share one commit.
	JournalDurable JournalMode = iota
	// JournalBatched returns from Enqueue at once, and commits what
	// changed every Config.JournalWindow, or as soon as JournalBatchMax
	// runs changed: a crash loses the changes since the last commit that
	// was synced, at most the last window's under a light load, and at most
	// two commits' (see JournalBatchMax) under a heavy one. An Enqueue
	// waits for a commit only when JournalBatchMax runs wait for one.
	JournalBatched
)

// JournalBatchMax bounds the runs a JournalBatched backend lets wait for a
// commit: once that many changed since the last, the commit starts without
// waiting for the window, and Enqueue waits for it. A crash then loses at
// most the changes of two commits, the one under way and the next, of up to
// JournalBatchMax runs each; docs/durability.md has what that is in time.
const JournalBatchMax = 4096

// JournalWindowDefault is how often a backend in JournalBatched mode
// commits, unless Config.JournalWindow says otherwise.
const JournalWindowDefault = 10 * time.Millisecond

// ErrJournal: the backend's journal failed: it could not be opened, read,
// or written. The error wrapping it says what failed.
var ErrJournal = errors.New("journal failed")
