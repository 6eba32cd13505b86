// Package sqlitejournal keeps a localtasks backend's runs in a SQLite file,
// so that queued runs and finished results survive a restart or a crash:
// it implements localtasks.Journal on modernc.org/sqlite, a SQLite
// translated to Go, so it needs no cgo and no C library.
//
// Use it if you want a pool's runs to survive its process; a program whose
// runs may be lost with it needs no journal.
//
//	j, err := sqlitejournal.Open("/var/lib/myprogram/tasks.db")
//	if err != nil { ... }
//	defer j.Close() // after the backend's Close
//	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
//		Config: localtasks.Config{Name: "mail", Journal: j},
//	})
//
// # Durability
//
// The file is in WAL mode with synchronous=FULL: a Commit returns once the
// write-ahead log is fsync'ed, so a run in it survives a crash of the
// program or of the machine. A batch is one transaction: after a crash the
// journal holds every batch whose Commit returned, and of the batch under
// way either all or nothing. One fsync costs milliseconds, so the backend
// commits many runs at once (Config.JournalMode); MEASUREMENTS.md in the
// module has the figures.
//
// # Disk space
//
// The file has auto_vacuum=INCREMENTAL: a Commit that deletes runs gives
// free pages back to the file system, at most 4 MiB of them a batch, once
// more than a quarter of the file is free. (*Journal).Compact rewrites the
// whole file, for an operator who wants all the space back at once.
//
// # Looking inside
//
// A journal is an ordinary SQLite database: the sqlite3 tool reads it,
// even while a program has it open.
//
//	sqlite3 tasks.db "SELECT * FROM meta"
//	sqlite3 tasks.db "SELECT status, count(*) FROM runs GROUP BY status"
//	sqlite3 tasks.db "SELECT id, task, datetime(enqueued_at / 1e9, 'unixepoch') FROM runs WHERE status = 'READY'"
//
// Write nothing into it while a program has it open: the backend keeps the
// runs in memory too, and would not see the change.
//
// The tables (the schema of SchemaVersion 1):
//
//	meta (key TEXT PRIMARY KEY, value NOT NULL)
//	    One row a setting: 'schema_version' (SchemaVersion, an integer),
//	    'backend' (the Name of the backend that claimed the journal) and
//	    'format' (the format that backend writes, localtasks.JournalFormat
//	    for this version of localtasks), the last two written by the
//	    first claim.
//
//	runs (
//	    id          TEXT PRIMARY KEY,  the run's ID
//	    task        TEXT NOT NULL,     the task's name
//	    queue       TEXT NOT NULL,
//	    status      TEXT NOT NULL,     'SCHEDULED', 'READY', 'RUNNING',
//	                                   'SUCCESSFUL', 'FAILED' or 'CANCELLED'
//	    priority    INTEGER NOT NULL,
//	    key         TEXT NOT NULL,     the run's key, or ''
//	    attempts    INTEGER NOT NULL,  attempts started
//	    enqueued_at INTEGER,           nanoseconds since 1970-01-01 UTC,
//	    run_after   INTEGER,           NULL when the time is unset
//	    finished_at INTEGER,
//	    args        BLOB,              the argument, gob-encoded
//	    value       BLOB,              a successful run's value, gob-encoded
//	    detail      BLOB               the rest of the run, JSON
//	)
//	    One row a run; an index, runs_status, on status.
//
//	strikes (key TEXT PRIMARY KEY, data BLOB)
//	    One row a strike in force; data is JSON.
//
// A blob is NULL when the backend gave nil, and an empty blob when it gave
// an empty slice. The status is its name rather than a number, so that a
// query reads as the API does and a row keeps its meaning whatever the
// numbering of localtasks.Status; the names cost a few bytes a run.
//
// The file stands with path-wal and path-shm while a program has it open;
// copy it with the sqlite3 tool's .backup command rather than cp.
//
// # One program at a time
//
// Two programs on one journal would both resume its runs, and run each
// twice. Open locks path.lock, a file beside the journal, until Close (a
// POSIX lock on Unix, which the processes the program starts do not
// share), and a second Open, in this program or another, fails at once,
// naming the process that holds it. The lock ends with the process that holds it, however it ends,
// so a program that crashed leaves nothing to clean up; path.lock itself
// stays.
package sqlitejournal
