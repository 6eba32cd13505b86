package sqlitejournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/localtasks/localtasks"
)

// Open claims the journal for the backend named backend, which writes runs
// in format: the first claim of a journal records both and returns
// (format, nil); a later one by the same backend returns the format
// recorded, which the backend compares with its own. A journal that holds
// another backend's runs is refused.
func (j *Journal) Open(ctx context.Context, backend string, format int) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable("claiming"); err != nil {
		return 0, err
	}
	if backend == "" {
		return 0, fmt.Errorf("sqlitejournal: claiming %s: the backend name is empty: %w", j.path, localtasks.ErrJournal)
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, j.claimError(err)
	}
	defer tx.Rollback()
	var owner string
	var stored int
	err = tx.QueryRowContext(ctx, `SELECT b.value, f.value FROM meta b, meta f WHERE b.key = ? AND f.key = ?`, metaBackend, metaFormat).Scan(&owner, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// A new journal: the first backend to claim it owns it.
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)`, metaBackend, backend, metaFormat, format)
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			return 0, j.claimError(err)
		}
		return format, nil
	case err != nil:
		return 0, j.claimError(err)
	case owner != backend:
		return 0, fmt.Errorf("sqlitejournal: %s holds the runs of backend %q, not of %q: give backend %q a journal file of its own, or name it %q to resume those runs: %w", j.path, owner, backend, backend, owner, localtasks.ErrJournal)
	}
	return stored, nil
}

// claimError is the error of a claim that could not read or write the meta
// table.
func (j *Journal) claimError(err error) error {
	return fmt.Errorf("sqlitejournal: claiming %s: %w: %w", j.path, err, localtasks.ErrJournal)
}
