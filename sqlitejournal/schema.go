package sqlitejournal

import (
	"fmt"
	"strings"

	"github.com/localtasks/localtasks"
)

// SchemaVersion is the version of the tables this package writes: the
// schema_version row of a journal's meta table. A journal of another
// version is refused by Open.
const SchemaVersion = 1

// schema creates the tables of a new journal; the package doc describes
// them. auto_vacuum must be INCREMENTAL before it runs: SQLite fixes the
// setting when the first table is created.
//
// The tables are not STRICT, so that a sqlite3 tool older than 3.37 (Debian
// 11 has 3.34) can still read them; Commit writes only the types below.
//
// Runs are a rowid table, not WITHOUT ROWID, although the id index then
// holds every ID a second time: rows are appended in the order they are
// first written, so the oldest finished runs, the ones the result store
// drops, sit together on pages that a delete empties whole and
// incremental_vacuum gives back; see MEASUREMENTS.md.
var schema = []string{
	`CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value NOT NULL
	)`,
	`CREATE TABLE runs (
		id          TEXT PRIMARY KEY,
		task        TEXT NOT NULL,
		queue       TEXT NOT NULL,
		status      TEXT NOT NULL,
		priority    INTEGER NOT NULL,
		key         TEXT NOT NULL,
		attempts    INTEGER NOT NULL,
		enqueued_at INTEGER,
		run_after   INTEGER,
		finished_at INTEGER,
		args        BLOB,
		value       BLOB,
		detail      BLOB
	)`,
	`CREATE INDEX runs_status ON runs (status)`,
	`CREATE TABLE strikes (
		key  TEXT PRIMARY KEY,
		data BLOB
	)`,
}

// chunk is how many rows one statement of Commit writes or deletes: a
// statement costs some microseconds of its own in the driver, besides its
// rows, so that many rows a statement make a Commit about twice as fast as
// one (BenchmarkCommit), and 13 parameters a row stay far below SQLite's
// limit of 32766.
const chunk = 32

// upsertRunsSQL returns the statement that writes n runs, each replacing
// the row of its ID. A later row of the same ID in one statement replaces
// an earlier one, as in separate statements.
func upsertRunsSQL(n int) string {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO runs (id, task, queue, status, priority, key, attempts,
		enqueued_at, run_after, finished_at, args, value, detail)
		VALUES ` + row + strings.Repeat(", "+row, n-1) + `
		ON CONFLICT (id) DO UPDATE SET task = excluded.task, queue = excluded.queue,
		status = excluded.status, priority = excluded.priority, key = excluded.key,
		attempts = excluded.attempts, enqueued_at = excluded.enqueued_at,
		run_after = excluded.run_after, finished_at = excluded.finished_at,
		args = excluded.args, value = excluded.value, detail = excluded.detail`
}

// deleteRunsSQL returns the statement that deletes n runs by ID.
func deleteRunsSQL(n int) string {
	return `DELETE FROM runs WHERE id IN (?` + strings.Repeat(", ?", n-1) + `)`
}

// The statements of strikes, and of Load.
const (
	upsertStrikeSQL = `INSERT INTO strikes (key, data) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET data = ?2`
	deleteStrikeSQL = `DELETE FROM strikes WHERE key = ?`
	// nulls tells a NULL blob from an empty one, which the driver reads
	// both as nil: bit 0 for args, 1 for value, 2 for detail.
	loadRunsSQL = `SELECT id, task, queue, status, priority, key, attempts,
		enqueued_at, run_after, finished_at, args, value, detail,
		(args IS NULL) | ((value IS NULL) << 1) | ((detail IS NULL) << 2)
		FROM runs`
	loadStrikesSQL = `SELECT key, data, data IS NULL FROM strikes`
)

// The meta table's keys.
const (
	metaSchemaVersion = "schema_version"
	metaBackend       = "backend"
	metaFormat        = "format"
)

// statusByName maps the name a runs row holds back to its Status: the
// journal stores names, which stay readable in the sqlite3 tool and keep
// their meaning if the constants are ever renumbered.
var statusByName = func() map[string]localtasks.Status {
	m := make(map[string]localtasks.Status)
	for s := localtasks.Status(1); !strings.HasPrefix(s.String(), "Status("); s++ {
		m[s.String()] = s
	}
	return m
}()

// statusName returns the name a runs row holds for s, or an error for a
// Status that has none.
func statusName(s localtasks.Status) (string, error) {
	name := s.String()
	if _, ok := statusByName[name]; !ok {
		return "", fmt.Errorf("status %v is not one a run can be in", s)
	}
	return name, nil
}
