package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"
)

// A variant of the runs table, to compare the bytes a run takes.
type variant struct {
	name    string
	table   string // %s is the status column's type
	status  string
	index   bool
	intStat bool
}

var variants = []variant{
	{name: "rowid+text+index", table: "", status: "TEXT", index: true},
	{name: "without_rowid+text+index", table: " WITHOUT ROWID", status: "TEXT", index: true},
	{name: "rowid+int+index", table: "", status: "INTEGER", index: true, intStat: true},
	{name: "rowid+text", table: "", status: "TEXT"},
}

// schemas writes n runs into a table of each variant, the first 70%
// finished, and reports the bytes a run; then deletes those 70%, the
// oldest first as the result store does, and reports the bytes a run left
// after a full incremental_vacuum. The file is in rollback mode without
// syncs, as the sizes do not depend on either.
func schemas(path string, n int) error {
	for _, v := range variants {
		if err := schema(path+"."+v.name, v, n); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	return nil
}

func schema(path string, v variant, n int) error {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
	defer os.Remove(path)
	db, err := sql.Open("sqlite", path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(TRUNCATE)&_auto_vacuum=INCREMENTAL")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmts := []string{fmt.Sprintf(`CREATE TABLE runs (
		id TEXT PRIMARY KEY, task TEXT NOT NULL, queue TEXT NOT NULL, status %s NOT NULL,
		priority INTEGER NOT NULL, key TEXT NOT NULL, attempts INTEGER NOT NULL,
		enqueued_at INTEGER, run_after INTEGER, finished_at INTEGER,
		args BLOB, value BLOB, detail BLOB)%s`, v.status, v.table)}
	if v.index {
		stmts = append(stmts, `CREATE INDEX runs_status ON runs (status)`)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return err
		}
	}
	finished := n * 7 / 10
	now := time.Now()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(`INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		for k := i; k < min(n, i+batch); k++ {
			r := run(k, k < finished, now)
			var status any = r.Status.String()
			if v.intStat {
				status = int64(r.Status)
			}
			var fin any
			if !r.FinishedAt.IsZero() {
				fin = r.FinishedAt.UnixNano()
			}
			_, err := stmt.Exec(r.ID, r.Task, r.Queue, status, 0, "", r.Attempts, r.EnqueuedAt.UnixNano(), nil, fin, r.Args, r.Value, r.Detail)
			if err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	full, err := fileSize(path)
	if err != nil {
		return err
	}
	for i := 0; i < finished; i += 1000 {
		ids := make([]any, 0, 1000)
		for k := i; k < min(finished, i+1000); k++ {
			ids = append(ids, runID(k))
		}
		q := `DELETE FROM runs WHERE id IN (?` + strings.Repeat(",?", len(ids)-1) + `)`
		if _, err := db.Exec(q, ids...); err != nil {
			return err
		}
	}
	if _, err := db.Exec(`PRAGMA incremental_vacuum`); err != nil {
		return err
	}
	after, err := fileSize(path)
	if err != nil {
		return err
	}
	if _, err := db.Exec(`VACUUM`); err != nil {
		return err
	}
	vacuumed, err := fileSize(path)
	if err != nil {
		return err
	}
	left := n - finished
	fmt.Printf("schema %s runs=%d bytes/run=%.1f after_delete_runs=%d bytes/run=%.1f after_vacuum bytes/run=%.1f\n",
		v.name, n, float64(full)/float64(n), left, float64(after)/float64(left), float64(vacuumed)/float64(left))
	return nil
}
