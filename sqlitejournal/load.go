package sqlitejournal

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// Load calls run with each run the journal holds, then strike with each
// strike, reading the rows as it goes: its memory does not grow with the
// journal. It stops at the first error run or strike returns, and returns
// that error as it is; the errors of the journal itself wrap
// localtasks.ErrJournal.
//
// run is given the same *JournalRun each time, overwritten: keep what it
// needs, not the pointer. The byte slices and strings in it are new each
// time, and may be kept. The times are in the local time zone, as time.Now
// gives them; a zero time comes back zero.
func (j *Journal) Load(ctx context.Context, run func(*localtasks.JournalRun) error, strike func(*localtasks.JournalStrike) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable("loading"); err != nil {
		return err
	}
	// One read transaction, so that runs and strikes are of one moment even
	// if another process writes.
	tx, err := j.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return j.loadError("beginning the transaction", err)
	}
	defer tx.Rollback()
	if err := j.loadRuns(ctx, tx, run); err != nil {
		return err
	}
	return j.loadStrikes(ctx, tx, strike)
}

// loadRuns calls run with each row of runs. Must hold mu.
func (j *Journal) loadRuns(ctx context.Context, tx *sql.Tx, run func(*localtasks.JournalRun) error) error {
	rows, err := tx.QueryContext(ctx, loadRunsSQL)
	if err != nil {
		return j.loadError("reading runs", err)
	}
	defer rows.Close()
	var r localtasks.JournalRun
	var status string
	var priority, attempts, nulls int64
	var times [3]sql.NullInt64
	for rows.Next() {
		if err := j.stopped(); err != nil {
			return err
		}
		r = localtasks.JournalRun{}
		err := rows.Scan(&r.ID, &r.Task, &r.Queue, &status, &priority, &r.Key, &attempts,
			&times[0], &times[1], &times[2], &r.Args, &r.Value, &r.Detail, &nulls)
		if err != nil {
			return j.loadError("reading runs", err)
		}
		var ok bool
		if r.Status, ok = statusByName[status]; !ok {
			return j.loadError(fmt.Sprintf("reading run %q", r.ID), fmt.Errorf("unknown status %q", status))
		}
		r.Priority, r.Attempts = int(priority), int(attempts)
		for k, t := range [3]*time.Time{&r.EnqueuedAt, &r.RunAfter, &r.FinishedAt} {
			if times[k].Valid {
				*t = time.Unix(0, times[k].Int64)
			}
		}
		// The driver reads an empty blob as nil: nulls says which were NULL.
		for k, b := range [3]*[]byte{&r.Args, &r.Value, &r.Detail} {
			if *b == nil && nulls&(1<<k) == 0 {
				*b = []byte{}
			}
		}
		if err := run(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return j.loadError("reading runs", err)
	}
	return nil
}

// loadStrikes calls strike with each row of strikes. Must hold mu.
func (j *Journal) loadStrikes(ctx context.Context, tx *sql.Tx, strike func(*localtasks.JournalStrike) error) error {
	rows, err := tx.QueryContext(ctx, loadStrikesSQL)
	if err != nil {
		return j.loadError("reading strikes", err)
	}
	defer rows.Close()
	var s localtasks.JournalStrike
	var null bool
	for rows.Next() {
		if err := j.stopped(); err != nil {
			return err
		}
		s = localtasks.JournalStrike{}
		if err := rows.Scan(&s.Key, &s.Data, &null); err != nil {
			return j.loadError("reading strikes", err)
		}
		if s.Data == nil && !null {
			s.Data = []byte{}
		}
		if err := strike(&s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return j.loadError("reading strikes", err)
	}
	return nil
}

// stopped returns an error once Close has been called.
func (j *Journal) stopped() error {
	select {
	case <-j.closing:
		return closedError("sqlitejournal: loading " + j.path + ": the journal was closed")
	default:
		return nil
	}
}

// loadError is the error of a Load that failed doing what.
func (j *Journal) loadError(what string, err error) error {
	return fmt.Errorf("sqlitejournal: loading %s: %s: %w: %w", j.path, what, err, localtasks.ErrJournal)
}
