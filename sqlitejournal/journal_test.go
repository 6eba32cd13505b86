package sqlitejournal_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// setup opens a new journal in a temporary directory, claimed by the
// backend "test", and closes it when the test ends.
func setup(t testing.TB) (*sqlitejournal.Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	format, err := j.Open(t.Context(), "test", localtasks.JournalFormat)
	require.NoError(t, err)
	require.Equal(t, localtasks.JournalFormat, format)
	return j, path
}

// openJournal opens the journal at path and closes it when the test ends.
func openJournal(t testing.TB, path string) *sqlitejournal.Journal {
	t.Helper()
	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	return j
}

// contents is what a journal holds, as Load gives it.
type contents struct {
	runs    map[string]localtasks.JournalRun
	strikes map[string][]byte
}

// load reads everything j holds.
func load(t testing.TB, j *sqlitejournal.Journal) contents {
	t.Helper()
	c := contents{runs: map[string]localtasks.JournalRun{}, strikes: map[string][]byte{}}
	err := j.Load(t.Context(), func(r *localtasks.JournalRun) error {
		_, dup := c.runs[r.ID]
		require.False(t, dup, "run %s loaded twice", r.ID)
		c.runs[r.ID] = *r
		return nil
	}, func(s *localtasks.JournalStrike) error {
		require.False(t, s.Lifted)
		c.strikes[s.Key] = s.Data
		return nil
	})
	require.NoError(t, err)
	return c
}

// commit commits b and requires it to succeed.
func commit(t testing.TB, j *sqlitejournal.Journal, b localtasks.JournalBatch) {
	t.Helper()
	require.NoError(t, j.Commit(t.Context(), &b))
}

// requireSameRun requires got to be want, comparing times with Equal and
// telling nil blobs from empty ones.
func requireSameRun(t *testing.T, want, got localtasks.JournalRun) {
	t.Helper()
	for _, tt := range []struct {
		name      string
		want, got time.Time
	}{{"EnqueuedAt", want.EnqueuedAt, got.EnqueuedAt}, {"RunAfter", want.RunAfter, got.RunAfter}, {"FinishedAt", want.FinishedAt, got.FinishedAt}} {
		require.True(t, tt.want.Equal(tt.got), "%s: want %v, got %v", tt.name, tt.want, tt.got)
		require.Equal(t, tt.want.IsZero(), tt.got.IsZero(), tt.name)
	}
	for _, b := range []struct {
		name      string
		want, got []byte
	}{{"Args", want.Args, got.Args}, {"Value", want.Value, got.Value}, {"Detail", want.Detail, got.Detail}} {
		require.Equal(t, b.want == nil, b.got == nil, "%s: want %#v, got %#v", b.name, b.want, b.got)
		require.True(t, bytes.Equal(b.want, b.got), "%s: want %q, got %q", b.name, b.want, b.got)
	}
	want.EnqueuedAt, want.RunAfter, want.FinishedAt = time.Time{}, time.Time{}, time.Time{}
	got.EnqueuedAt, got.RunAfter, got.FinishedAt = time.Time{}, time.Time{}, time.Time{}
	want.Args, want.Value, want.Detail = nil, nil, nil
	got.Args, got.Value, got.Detail = nil, nil, nil
	require.Equal(t, want, got)
}

// testRun returns a run with every field set.
func testRun(id string) localtasks.JournalRun {
	now := time.Now()
	return localtasks.JournalRun{
		ID:         id,
		Task:       "mail.send",
		Queue:      "default",
		Status:     localtasks.StatusReady,
		Priority:   -7,
		Key:        "key-" + id,
		Attempts:   3,
		EnqueuedAt: now,
		RunAfter:   now.Add(time.Minute),
		FinishedAt: now.Add(time.Hour),
		Args:       []byte("args of " + id),
		Value:      []byte{0, 1, 2, 0xff},
		Detail:     []byte(`{"reason":"x"}`),
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	j, path := setup(t)
	full := testRun("full")
	// Zero times and nil blobs stay so; empty blobs stay empty.
	sparse := localtasks.JournalRun{ID: "sparse", Task: "t", Status: localtasks.StatusScheduled, Args: []byte{}, Detail: []byte{}}
	var runs []localtasks.JournalRun
	runs = append(runs, full, sparse)
	for s := localtasks.StatusScheduled; s <= localtasks.StatusCancelled; s++ {
		r := testRun("status-" + s.String())
		r.Status = s
		r.EnqueuedAt = time.Unix(0, 1) // the smallest positive time
		r.FinishedAt = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
		runs = append(runs, r)
	}
	commit(t, j, localtasks.JournalBatch{Runs: runs})

	got := load(t, j)
	require.Len(t, got.runs, len(runs))
	for _, r := range runs {
		requireSameRun(t, r, got.runs[r.ID])
	}

	// The file holds what the package doc says, for an operator's queries.
	db := rawDB(t, path)
	var status, args, value string
	var enqueued int64
	require.NoError(t, db.QueryRow(`SELECT status, typeof(args), typeof(value), enqueued_at FROM runs WHERE id = 'sparse'`).Scan(&status, &args, &value, new(sql.NullInt64)))
	require.Equal(t, []string{"SCHEDULED", "blob", "null"}, []string{status, args, value})
	require.NoError(t, db.QueryRow(`SELECT enqueued_at FROM runs WHERE id = 'full'`).Scan(&enqueued))
	require.Equal(t, full.EnqueuedAt.UnixNano(), enqueued)
}

// rawDB opens the journal's file through database/sql, as the sqlite3
// tool would, to look at the rows.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpsertReplaces(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	first, other := testRun("a"), testRun("b")
	commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{first, other}})
	second := localtasks.JournalRun{ID: "a", Task: "other", Queue: "q2", Status: localtasks.StatusSuccessful, Value: []byte("done")}
	commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{second}})
	got := load(t, j)
	require.Len(t, got.runs, 2)
	requireSameRun(t, second, got.runs["a"])
	requireSameRun(t, other, got.runs["b"])

	// The same ID twice in one batch, in one statement or in two: the
	// later row wins.
	var runs []localtasks.JournalRun
	for i := range 70 {
		r := second
		r.Attempts = i
		runs = append(runs, r, testRun(fmt.Sprint("other-", i)))
	}
	commit(t, j, localtasks.JournalBatch{Runs: runs})
	got = load(t, j)
	require.Len(t, got.runs, 72)
	require.Equal(t, 69, got.runs["a"].Attempts)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("old"), testRun("kept")}})
	// Runs are written before Deleted are removed: a run put and deleted in
	// one batch is gone, as is one deleted that was put before; an unknown
	// ID is no error.
	commit(t, j, localtasks.JournalBatch{
		Runs:    []localtasks.JournalRun{testRun("new")},
		Deleted: []string{"new", "old", "never-there"},
	})
	got := load(t, j)
	require.Len(t, got.runs, 1)
	require.Contains(t, got.runs, "kept")
}

func TestStrikes(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	commit(t, j, localtasks.JournalBatch{Strikes: []localtasks.JournalStrike{
		{Key: "task:a", Data: []byte(`{"n":1}`)},
		{Key: "task:b", Data: []byte(`{"n":2}`)},
		{Key: "task:empty", Data: []byte{}},
		{Key: "task:nil"},
	}})
	commit(t, j, localtasks.JournalBatch{Strikes: []localtasks.JournalStrike{
		{Key: "task:a", Data: []byte(`{"n":3}`)}, // replaces
		{Key: "task:b", Lifted: true},
		{Key: "task:never", Lifted: true}, // lifting what is not there is no error
	}})
	got := load(t, j)
	require.Equal(t, map[string][]byte{"task:a": []byte(`{"n":3}`), "task:empty": {}, "task:nil": nil}, got.strikes)
	require.NotNil(t, got.strikes["task:empty"])
}

func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)
	_, err = j.Open(t.Context(), "test", 1)
	require.NoError(t, err)
	runs := []localtasks.JournalRun{testRun("a"), testRun("b")}
	require.NoError(t, j.Commit(t.Context(), &localtasks.JournalBatch{
		Runs:    runs,
		Strikes: []localtasks.JournalStrike{{Key: "k", Data: []byte("d")}},
	}))
	require.NoError(t, j.Close())
	require.NoError(t, j.Close(), "a second Close")

	j = openJournal(t, path)
	format, err := j.Open(t.Context(), "test", 1)
	require.NoError(t, err)
	require.Equal(t, 1, format)
	got := load(t, j)
	require.Len(t, got.runs, 2)
	for _, r := range runs {
		requireSameRun(t, r, got.runs[r.ID])
	}
	require.Equal(t, map[string][]byte{"k": []byte("d")}, got.strikes)
}

func TestClaim(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	format, err := j.Open(t.Context(), "mail", 3)
	require.NoError(t, err)
	require.Equal(t, 3, format, "a new journal takes the backend's format")

	// The same backend again, in this process or the next, with another
	// format: the journal's is returned, for the backend to judge.
	format, err = j.Open(t.Context(), "mail", 4)
	require.NoError(t, err)
	require.Equal(t, 3, format)

	_, err = j.Open(t.Context(), "reports", 3)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, `holds the runs of backend "mail", not of "reports": give backend "reports" a journal file of its own, or name it "mail" to resume those runs`)

	_, err = j.Open(t.Context(), "", 3)
	require.ErrorIs(t, err, localtasks.ErrJournal)
}

func TestRollback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		before int // good new runs before the bad one
		bad    localtasks.JournalRun
		msg    string
	}{
		{"status", 1, localtasks.JournalRun{ID: "bad", Status: 0}, `writing run "bad": status UNKNOWN is not one a run can be in`},
		{"time", 1, localtasks.JournalRun{ID: "bad", Status: localtasks.StatusReady, RunAfter: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, `writing run "bad": time 3000-01-01`},
		// After a statement of many rows, and within one.
		{"status-late", 100, localtasks.JournalRun{ID: "bad", Status: 0}, `writing run "bad": status UNKNOWN`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, _ := setup(t)
			kept := testRun("kept")
			commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{kept}, Strikes: []localtasks.JournalStrike{{Key: "s", Data: []byte("1")}}})

			// The bad run comes after a good one, a new row and a
			// replaced one: none of the batch may stay.
			changed := kept
			changed.Status = localtasks.StatusRunning
			var runs []localtasks.JournalRun
			for i := range tt.before {
				runs = append(runs, testRun(fmt.Sprint("new-", i)))
			}
			err := j.Commit(t.Context(), &localtasks.JournalBatch{
				Runs:    append(runs, changed, tt.bad),
				Deleted: []string{"kept"},
				Strikes: []localtasks.JournalStrike{{Key: "s", Lifted: true}},
			})
			require.ErrorIs(t, err, localtasks.ErrJournal)
			require.ErrorContains(t, err, tt.msg)

			got := load(t, j)
			require.Len(t, got.runs, 1)
			requireSameRun(t, kept, got.runs["kept"])
			require.Equal(t, map[string][]byte{"s": []byte("1")}, got.strikes)

			// The journal still works.
			commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("after")}})
			require.Len(t, load(t, j).runs, 2)
		})
	}
}

func TestCommitCancelled(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := j.Commit(ctx, &localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("a")}})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.Empty(t, load(t, j).runs)
	commit(t, j, localtasks.JournalBatch{})
}

func TestNotSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notes.txt")
	text := bytes.Repeat([]byte("these are notes, not a database\n"), 200)
	require.NoError(t, os.WriteFile(path, text, 0o600))
	_, err := sqlitejournal.Open(path)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, path+" is not a SQLite database (file is not a database (26)): give Open the path of a journal, or of a file to create")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, text, got, "the file is left as it was")
}

func TestNotAJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "other.db")
	db := rawDB(t, path)
	_, err := db.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = sqlitejournal.Open(path)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, "is a SQLite database but not a journal")

	db = rawDB(t, path)
	var mode string
	require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "delete", mode, "the database is left in its journal mode")
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		version int
		msg     string
	}{
		{sqlitejournal.SchemaVersion + 1, fmt.Sprintf("has schema version %d, newer than the %d this version of the package reads: use the newer", sqlitejournal.SchemaVersion+1, sqlitejournal.SchemaVersion)},
		{sqlitejournal.SchemaVersion - 1, fmt.Sprintf("has schema version %d, which this version of the package (schema version %d) does not read", sqlitejournal.SchemaVersion-1, sqlitejournal.SchemaVersion)},
	} {
		t.Run(fmt.Sprint(tt.version), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "journal.db")
			j, err := sqlitejournal.Open(path)
			require.NoError(t, err)
			require.NoError(t, j.Close())
			db := rawDB(t, path)
			_, err = db.Exec(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, tt.version)
			require.NoError(t, err)
			require.NoError(t, db.Close())

			_, err = sqlitejournal.Open(path)
			require.ErrorIs(t, err, localtasks.ErrJournal)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestFileSettings(t *testing.T) {
	t.Parallel()
	j, path := setup(t)
	commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("a")}})
	db := rawDB(t, path)
	var mode string
	var autoVacuum int
	require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.NoError(t, db.QueryRow(`PRAGMA auto_vacuum`).Scan(&autoVacuum))
	require.Equal(t, "wal", mode)
	require.Equal(t, 2, autoVacuum, "INCREMENTAL")
	var backend string
	var format int
	require.NoError(t, db.QueryRow(`SELECT b.value, f.value FROM meta b, meta f WHERE b.key = 'backend' AND f.key = 'format'`).Scan(&backend, &format))
	require.Equal(t, "test", backend)
	require.Equal(t, localtasks.JournalFormat, format)
}

func TestPathWithURICharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
	j := openJournal(t, path)
	_, err := j.Open(t.Context(), "test", 1)
	require.NoError(t, err)
	_, err = os.Stat(path)
	require.NoError(t, err, "the file has the name given")
}

func TestClosed(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	require.NoError(t, j.Close())
	_, err := j.Open(t.Context(), "test", 1)
	require.ErrorIs(t, err, localtasks.ErrClosed)
	err = j.Commit(t.Context(), &localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("a")}})
	require.ErrorIs(t, err, localtasks.ErrClosed)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	err = j.Load(t.Context(), nil, nil)
	require.ErrorIs(t, err, localtasks.ErrClosed)
	require.ErrorIs(t, j.Compact(t.Context()), localtasks.ErrClosed)
}

func TestCloseDuringLoad(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	commit(t, j, localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun("a"), testRun("b")}})
	closed := make(chan error, 1)
	calls := 0
	err := j.Load(t.Context(), func(*localtasks.JournalRun) error {
		calls++
		go func() { closed <- j.Close() }()
		<-j.Closing() // Close has begun, and waits for Load
		return nil
	}, nil)
	require.ErrorIs(t, err, localtasks.ErrClosed)
	require.Equal(t, 1, calls)
	require.NoError(t, <-closed)
}

// TestCloseDuringCommits closes a journal while another goroutine commits:
// each Commit either is whole on disk or fails with ErrClosed.
func TestCloseDuringCommits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)
	_, err = j.Open(t.Context(), "test", 1)
	require.NoError(t, err)
	var committed atomic.Int64
	first := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			err := j.Commit(context.Background(), &localtasks.JournalBatch{Runs: []localtasks.JournalRun{testRun(fmt.Sprint(i))}})
			if err != nil {
				done <- err
				return
			}
			if committed.Add(1) == 1 {
				close(first)
			}
		}
	}()
	<-first // one commit, at least, before Close
	require.NoError(t, j.Close())
	require.ErrorIs(t, <-done, localtasks.ErrClosed)

	j = openJournal(t, path)
	_, err = j.Open(t.Context(), "test", 1)
	require.NoError(t, err)
	require.Len(t, load(t, j).runs, int(committed.Load()))
}

func TestLoadStopsAtCallbackError(t *testing.T) {
	t.Parallel()
	j, _ := setup(t)
	commit(t, j, localtasks.JournalBatch{
		Runs:    []localtasks.JournalRun{testRun("a"), testRun("b")},
		Strikes: []localtasks.JournalStrike{{Key: "a"}, {Key: "b"}},
	})
	errStop := fmt.Errorf("stop")
	calls := 0
	err := j.Load(t.Context(), func(*localtasks.JournalRun) error { calls++; return errStop }, nil)
	require.Equal(t, errStop, err, "returned as it is")
	require.Equal(t, 1, calls)

	calls = 0
	err = j.Load(t.Context(), func(*localtasks.JournalRun) error { return nil }, func(*localtasks.JournalStrike) error { calls++; return errStop })
	require.Equal(t, errStop, err)
	require.Equal(t, 1, calls)
}

// TestReclaim deletes most runs of a journal, and checks that commits give
// the space back, and Compact the rest.
func TestReclaim(t *testing.T) {
	t.Parallel()
	j, path := setup(t)
	const n, perBatch = 4000, 400
	args := bytes.Repeat([]byte("a"), 1000)
	for i := 0; i < n; i += perBatch {
		b := localtasks.JournalBatch{}
		for k := i; k < i+perBatch; k++ {
			r := testRun(fmt.Sprintf("run-%05d", k))
			r.Args = args
			b.Runs = append(b.Runs, r)
		}
		commit(t, j, b)
	}
	db := rawDB(t, path)
	pages := func() (pages, free int64) {
		t.Helper()
		require.NoError(t, db.QueryRow(`PRAGMA page_count`).Scan(&pages))
		require.NoError(t, db.QueryRow(`PRAGMA freelist_count`).Scan(&free))
		return pages, free
	}
	full, _ := pages()
	require.Greater(t, full, int64(4*sqlitejournal.VacuumMinFree), "enough pages for the test to mean something")

	// Delete 90%, the oldest first, in batches as the result store would.
	for i := 0; i < n*9/10; i += perBatch {
		b := localtasks.JournalBatch{}
		for k := i; k < i+perBatch; k++ {
			b.Deleted = append(b.Deleted, fmt.Sprintf("run-%05d", k))
		}
		commit(t, j, b)
	}
	after, free := pages()
	require.Less(t, after, full/2, "the file shrank")
	require.LessOrEqual(t, free, max(sqlitejournal.VacuumMinFree, after/sqlitejournal.VacuumFraction)+sqlitejournal.VacuumStep)

	require.NoError(t, j.Compact(t.Context()))
	compacted, free := pages()
	require.LessOrEqual(t, compacted, after)
	require.Zero(t, free)
	require.Len(t, load(t, j).runs, n/10)
}
