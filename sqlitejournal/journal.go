package sqlitejournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/localtasks/localtasks"
)

var _ localtasks.Journal = (*Journal)(nil)

// Journal is a localtasks.Journal kept in one SQLite file. Open one, pass
// it in a backend's Config, and Close it after the backend.
//
// The backend calls Open, Load and Commit from one goroutine at a time, as
// the contract says; Close and Compact may come from any goroutine, though
// not from within Load's callbacks. Close waits for a Commit under way and
// stops a Load under way.
type Journal struct {
	path string
	db   *sql.DB
	lock *lock // released by Close

	// closing is closed by Close, to stop a Load under way between rows.
	closing   chan struct{}
	closeOnce sync.Once

	// mu serialises the calls on the one connection, and Close with them.
	mu     sync.Mutex
	closed bool // under mu
	// The prepared statements Commit uses, on the one connection: of runs,
	// [0] for one row and [1] for chunk rows.
	upsertRuns, deleteRuns     [2]*sql.Stmt
	upsertStrike, deleteStrike *sql.Stmt
}

// busyTimeoutMillis is how long a statement waits for a lock another
// process holds, such as an operator's sqlite3 tool writing, before it
// fails: the journal's own calls never wait for each other.
const busyTimeoutMillis = 10_000

// journalSizeLimit bounds the write-ahead log left on disk after a
// checkpoint: a Compact or a large batch grows it, and SQLite only
// truncates it to this.
const journalSizeLimit = 64 << 20

// Open opens the journal at path, creating it if the file does not exist,
// and checks that it is a journal of this package's SchemaVersion. The
// backend that is given it then claims it with (*Journal).Open.
//
// The file is in WAL mode: path-wal and path-shm stand beside it while it is
// open, and path-wal holds commits not yet copied into path; keep the three
// together, and copy the journal with the sqlite3 tool's .backup rather
// than cp while a program has it open.
//
// One program at a time has a journal open: two backends resuming the same
// runs would each run them. Open locks path+".lock" (creating it, and
// writing the process's ID into it) until Close, and fails at once with an
// error matching localtasks.ErrJournal, naming the process that holds it,
// while another Journal holds the lock, in this process or another. The
// system releases the lock when the process ends, however it ends; the
// file stays. On a system without file locks (neither Unix nor Windows)
// there is no lock, and keeping to one program is the user's task.
func Open(path string) (*Journal, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlitejournal: the path is empty: give Open the path of a journal file, or of a file to create: %w", localtasks.ErrJournal)
	}
	l, err := acquire(path)
	if err != nil {
		return nil, err
	}
	dsn := fileURI(path) + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=synchronous(FULL)&_pragma=journal_size_limit(%d)&_txlock=immediate",
		busyTimeoutMillis, journalSizeLimit)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		l.release()
		return nil, openError(path, err)
	}
	// One connection: SQLite has one writer anyway, and the backend makes
	// one call at a time. Statements prepared on the DB stay prepared on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	j := &Journal{path: path, db: db, lock: l, closing: make(chan struct{})}
	if err := j.init(); err != nil {
		db.Close()
		l.release()
		return nil, err
	}
	return j, nil
}

// init checks the file, creates the tables of a new journal, and prepares
// the statements.
func (j *Journal) init() error {
	ctx := context.Background()
	// Nothing in a file that is not ours changes before the check: the
	// journal mode, for one, is written into the file.
	var tables int
	var hasMeta bool
	err := j.db.QueryRowContext(ctx, `SELECT count(*), coalesce(max(name = 'meta'), 0) FROM sqlite_schema WHERE type = 'table'`).Scan(&tables, &hasMeta)
	if err != nil {
		return openError(j.path, err)
	}
	switch {
	case tables == 0:
		if err := j.create(ctx); err != nil {
			return err
		}
	case !hasMeta:
		return fmt.Errorf("sqlitejournal: %s is a SQLite database but not a journal (it has no meta table): give Open another path, of a journal or of a file to create: %w", j.path, localtasks.ErrJournal)
	default:
		if err := j.checkVersion(ctx); err != nil {
			return err
		}
		if _, err := j.db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
			return openError(j.path, err)
		}
	}
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&j.upsertRuns[0], upsertRunsSQL(1)},
		{&j.upsertRuns[1], upsertRunsSQL(chunk)},
		{&j.deleteRuns[0], deleteRunsSQL(1)},
		{&j.deleteRuns[1], deleteRunsSQL(chunk)},
		{&j.upsertStrike, upsertStrikeSQL},
		{&j.deleteStrike, deleteStrikeSQL},
	} {
		if *s.stmt, err = j.db.PrepareContext(ctx, s.sql); err != nil {
			return openError(j.path, err)
		}
	}
	return nil
}

// create makes a new journal: the settings SQLite keeps in the file, then
// the tables, then the schema version, in one transaction.
func (j *Journal) create(ctx context.Context) error {
	for _, pragma := range []string{`PRAGMA auto_vacuum = INCREMENTAL`, `PRAGMA journal_mode = WAL`} {
		if _, err := j.db.ExecContext(ctx, pragma); err != nil {
			return openError(j.path, err)
		}
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return openError(j.path, err)
	}
	defer tx.Rollback()
	// Another process may have created the tables since the check.
	var tables int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&tables); err != nil {
		return openError(j.path, err)
	}
	if tables > 0 {
		tx.Rollback()
		return j.checkVersion(ctx)
	}
	for _, s := range schema {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return openError(j.path, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, metaSchemaVersion, SchemaVersion); err != nil {
		return openError(j.path, err)
	}
	if err := tx.Commit(); err != nil {
		return openError(j.path, err)
	}
	return nil
}

// checkVersion refuses a journal of another schema version.
func (j *Journal) checkVersion(ctx context.Context) error {
	var version int64
	err := j.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaSchemaVersion).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlitejournal: %s has a meta table without a schema version: it is not a journal, give Open another path: %w", j.path, localtasks.ErrJournal)
	case err != nil:
		return openError(j.path, err)
	case version > SchemaVersion:
		return fmt.Errorf("sqlitejournal: %s has schema version %d, newer than the %d this version of the package reads: use the newer github.com/localtasks/localtasks/sqlitejournal that wrote it: %w", j.path, version, SchemaVersion, localtasks.ErrJournal)
	case version != SchemaVersion:
		return fmt.Errorf("sqlitejournal: %s has schema version %d, which this version of the package (schema version %d) does not read: finish its runs with the version that wrote it, or give Open a new file: %w", j.path, version, SchemaVersion, localtasks.ErrJournal)
	}
	return nil
}

// Close closes the journal, and releases its lock for the next Open. A
// Commit under way finishes first; a Load under way stops and returns an
// error. The calls that follow return errors that wrap
// localtasks.ErrClosed. Closing again does nothing and returns nil.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() { close(j.closing) })
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	// Closing the DB closes its statements. The lock goes after it, so
	// that the next program finds the file closed.
	err := j.db.Close()
	if lerr := j.lock.release(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("sqlitejournal: closing %s: %w: %w", j.path, err, localtasks.ErrJournal)
	}
	return nil
}

// Compact rewrites the journal into as few pages as its rows need (SQLite's
// VACUUM), and truncates the write-ahead log, giving the space back to the
// file system. Commits reclaim the pages of deleted runs as they go, a few
// at a time; Compact is for an operator who wants the rest back at once, as
// after most runs were deleted. It needs free disk space for a copy of the
// journal, blocks Commit while it runs, and takes about as long as
// writing every row again (MEASUREMENTS.md).
func (j *Journal) Compact(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable("compacting"); err != nil {
		return err
	}
	for _, s := range []string{`VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := j.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlitejournal: compacting %s: %s: %w: %w", j.path, s, err, localtasks.ErrJournal)
		}
	}
	return nil
}

// usable returns the error of a call, doing what, on a closed journal.
// Must hold mu.
func (j *Journal) usable(what string) error {
	if j.closed {
		return closedError("sqlitejournal: " + what + " " + j.path + ": the journal is closed")
	}
	return nil
}

// closedError is the error of a call on a closed journal: it says so, and
// wraps both localtasks.ErrClosed and localtasks.ErrJournal, without
// ErrClosed's words about a backend.
type closedError string

func (e closedError) Error() string   { return string(e) }
func (e closedError) Unwrap() []error { return []error{localtasks.ErrClosed, localtasks.ErrJournal} }

// openError is the error of opening path, explained when the file is not a
// SQLite database.
func openError(path string, err error) error {
	if se, ok := errors.AsType[*sqlite.Error](err); ok && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return fmt.Errorf("sqlitejournal: %s is not a SQLite database (%w): give Open the path of a journal, or of a file to create: %w", path, err, localtasks.ErrJournal)
	}
	return fmt.Errorf("sqlitejournal: opening %s: %w: %w", path, err, localtasks.ErrJournal)
}

// fileURI returns path as a SQLite file: URI, so that a '?' or '#' in it is
// part of the name rather than the start of the parameters.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}
