package sqlitejournal

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// Commit writes b in one transaction: the runs (each replacing the row of
// its ID), then the deletions, then the strikes; it returns once SQLite has
// synced the write-ahead log (synchronous=FULL), or, on any error, after
// rolling all of b back. A batch with nothing in it returns nil at once.
//
// An error does not prove that b is absent: when the fsync of the
// write-ahead log fails, its frames may still reach the disk, and a restart
// then finds b whole (never in part: the frames are checksummed, and the
// commit frame comes last). Committing the same batch again is harmless:
// rows are whole, and deleting a run or lifting a strike that is not there
// is no error. After an I/O error, though, treat the journal as failed:
// Linux may have dropped the pages whose fsync failed, and a later fsync
// that succeeds does not bring them back.
//
// The cost is one fsync (half a millisecond for a batch of one run on the
// virtual disk of MEASUREMENTS.md, more on a slow disk) plus 12 to 80
// microseconds of CPU a row, the more the larger the journal, so the
// backend commits many runs at once when it can: 1 200 runs/s one at a
// time, 15 000 runs/s in batches of 150 (MEASUREMENTS.md). A batch that
// deletes runs may also give back a bounded number of free pages to the
// file system (incremental_vacuum), so that the file shrinks after many runs
// are dropped.
func (j *Journal) Commit(ctx context.Context, b *localtasks.JournalBatch) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable("committing to"); err != nil {
		return err
	}
	if len(b.Runs) == 0 && len(b.Deleted) == 0 && len(b.Strikes) == 0 {
		return nil
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return j.commitError("beginning the transaction", err)
	}
	// A no-op once Commit has succeeded.
	defer tx.Rollback()
	if err := j.write(ctx, tx, b); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return j.commitError("committing", err)
	}
	return nil
}

// write runs the statements of b in tx. Must hold mu.
func (j *Journal) write(ctx context.Context, tx *sql.Tx, b *localtasks.JournalBatch) error {
	args := make([]any, 0, 13*min(len(b.Runs), chunk))
	// The statements bound to tx, made as they are first needed.
	var stmts [4]*sql.Stmt
	stmt := func(k int, s *sql.Stmt) *sql.Stmt {
		if stmts[k] == nil {
			stmts[k] = tx.StmtContext(ctx, s)
		}
		return stmts[k]
	}
	for runs := b.Runs; len(runs) > 0; {
		n := 1
		if len(runs) >= chunk {
			n = chunk
		}
		args = args[:0]
		for i := range runs[:n] {
			r := &runs[i]
			status, err := statusName(r.Status)
			if err != nil {
				return j.commitError(fmt.Sprintf("writing run %q", r.ID), err)
			}
			args = append(args, r.ID, r.Task, r.Queue, status, int64(r.Priority), r.Key, int64(r.Attempts))
			for _, t := range [3]time.Time{r.EnqueuedAt, r.RunAfter, r.FinishedAt} {
				ns, err := unixNano(t)
				if err != nil {
					return j.commitError(fmt.Sprintf("writing run %q", r.ID), err)
				}
				args = append(args, ns)
			}
			args = append(args, r.Args, r.Value, r.Detail)
		}
		if _, err := stmt(n/chunk, j.upsertRuns[n/chunk]).ExecContext(ctx, args...); err != nil {
			return j.commitError(runsWhat("writing", runs[:n], func(r localtasks.JournalRun) string { return r.ID }), err)
		}
		runs = runs[n:]
	}
	for ids := b.Deleted; len(ids) > 0; {
		n := 1
		if len(ids) >= chunk {
			n = chunk
		}
		args = args[:0]
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		if _, err := stmt(2+n/chunk, j.deleteRuns[n/chunk]).ExecContext(ctx, args...); err != nil {
			return j.commitError(runsWhat("deleting", ids[:n], func(id string) string { return id }), err)
		}
		ids = ids[n:]
	}
	lifted := false
	if len(b.Strikes) > 0 {
		upsert := tx.StmtContext(ctx, j.upsertStrike)
		remove := tx.StmtContext(ctx, j.deleteStrike)
		for i := range b.Strikes {
			s := &b.Strikes[i]
			var err error
			if s.Lifted {
				lifted = true
				_, err = remove.ExecContext(ctx, s.Key)
			} else {
				_, err = upsert.ExecContext(ctx, s.Key, s.Data)
			}
			if err != nil {
				return j.commitError(fmt.Sprintf("writing strike %q", s.Key), err)
			}
		}
	}
	if len(b.Deleted) > 0 || lifted {
		return j.reclaim(ctx, tx)
	}
	return nil
}

// Incremental vacuum: once more than vacuumMinFree pages, and more than
// 1/vacuumFraction of the file, are free, a batch that deletes gives
// vacuumStep of them back to the file system, in the batch's transaction,
// so with no fsync of its own. So a
// file stays within about a quarter of what its rows need, and no batch
// moves more than vacuumStep pages (4 MiB of 4 KiB pages) for it.
const (
	vacuumMinFree  = 256
	vacuumFraction = 4
	vacuumStep     = 1024
)

// reclaim gives free pages back to the file system, a bounded number at a
// time, if enough of the file is free. Must hold mu.
func (j *Journal) reclaim(ctx context.Context, tx *sql.Tx) error {
	var free, pages int64
	if err := tx.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return j.commitError("counting free pages", err)
	}
	if free <= vacuumMinFree {
		return nil
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return j.commitError("counting pages", err)
	}
	if free*vacuumFraction <= pages {
		return nil
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumStep)); err != nil {
		return j.commitError("reclaiming free pages", err)
	}
	return nil
}

// runsWhat says what a statement on the runs of rows was doing.
func runsWhat[T any](doing string, rows []T, id func(T) string) string {
	if len(rows) == 1 {
		return fmt.Sprintf("%s run %q", doing, id(rows[0]))
	}
	return fmt.Sprintf("%s the %d runs %q to %q", doing, len(rows), id(rows[0]), id(rows[len(rows)-1]))
}

// unixNano returns t as a runs row holds it: nil (NULL) for the zero time,
// else nanoseconds since 1970 UTC, which int64 holds for the years 1678 to
// 2262.
func unixNano(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %v is outside the years 1678 to 2262 the journal holds", t)
	}
	return t.UnixNano(), nil
}

// The times int64 nanoseconds since 1970 hold.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// commitError is the error of a Commit that failed doing what.
func (j *Journal) commitError(what string, err error) error {
	return fmt.Errorf("sqlitejournal: committing to %s: %s: %w: %w", j.path, what, err, localtasks.ErrJournal)
}
