package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"maragu.dev/goqite"
	"maragu.dev/goqite/jobs"
	_ "modernc.org/sqlite" // database/sql driver "sqlite": the SQLite sqlitejournal links, for the peers

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// W8 runs W1's no-op work with every run on disk before Enqueue returns,
// beside the zero-server durable queues a user would pick instead: goqite
// and River, each on a SQLite file of its own.

const (
	w8Workers   = 8
	w8Producers = 64
)

func w8() *workload {
	return &workload{
		id: "W8", title: "durable",
		sizes: [3]params{{N: 5_000}, {N: 500}, {N: 64}},
		systems: []system{
			{name: "localtasks", run: func(ctx context.Context, p params) (measurement, error) {
				return w8LocalTasks(ctx, p.N, w8Producers, w8Durable)
			}},
			{name: "localtasks-batched", run: func(ctx context.Context, p params) (measurement, error) {
				return w8LocalTasks(ctx, p.N, w8Producers, w8Batched)
			}},
			// One producer: each Enqueue waits for a commit of its own.
			// A tenth of N, as it runs at about one fsync a run.
			{name: "localtasks-1producer", run: func(ctx context.Context, p params) (measurement, error) {
				return w8LocalTasks(ctx, max(p.N/10, 1), 1, w8Durable)
			}},
			{name: "localtasks-memory", run: func(ctx context.Context, p params) (measurement, error) {
				return w8LocalTasks(ctx, p.N, w8Producers, w8Memory)
			}},
			{name: "goqite", run: w8Goqite},
			{name: "river", run: func(ctx context.Context, p params) (measurement, error) {
				return w8River(ctx, p.N, 0)
			}},
			{name: "river-insertmany", run: func(ctx context.Context, p params) (measurement, error) {
				return w8River(ctx, p.N, w8InsertBatch)
			}},
		},
		targets: []target{
			bestAtLeast("localtasks", []string{"goqite", "river"}, 2),
			throughputAtLeast("localtasks-batched", "localtasks-memory", 0.5),
		},
		legend: "W8: N no-op runs by 64 producers released at once, each enqueueing its share one at a time (Enqueue returns once the run is on disk), " +
			"then waiting for its own results; 8 workers; each system on a new SQLite file (WAL, synchronous=FULL) in the same temp directory; " +
			"the clock runs until every result is read back and the system is closed (its last commits done). " +
			"localtasks: sqlitejournal, JournalDurable; -batched: JournalBatched (10 ms window); -1producer: one producer, N/10 runs; " +
			"-memory: no journal. goqite: its jobs.Runner, Limit 8, PollInterval 1 ms; river: riversqlite, MaxWorkers 8, FetchCooldown and FetchPollInterval 1 ms, " +
			"Insert one at a time; river-insertmany: InsertMany of 100 (extra, not durable one by one). " +
			"runs_per_commit: runs / journal commits (a commit costs about 1.35 fsyncs); read_ms: milliseconds until the last result was read, before closing; undeleted: goqite messages its runner failed to delete, which it would run again (the largest over runs). ratio = localtasks tasks/s / the best of goqite and river; " +
			"batched tasks/s / memory tasks/s.",
	}
}

// w8InsertBatch is river-insertmany's batch.
const w8InsertBatch = 100

// bestAtLeast: subject's tasks/s over the best of peers', at least min.
func bestAtLeast(subject string, peers []string, min float64) target {
	t := throughputAtLeast(subject, "", min)
	t.vs = "best of " + strings.Join(peers, ",")
	t.ratio = func(m map[string]stats, _ params) (float64, bool) {
		a, ok := m[subject]
		if !ok {
			return 0, false
		}
		best := 0.0
		for _, name := range peers {
			if b, ok := m[name]; ok {
				best = max(best, b.tasksPerSec())
			}
		}
		if best == 0 {
			return 0, false
		}
		return a.tasksPerSec() / best, true
	}
	return t
}

// produce runs W8's pattern: producers goroutines released at once, the
// g-th submitting runs g, g+producers, ... of n (timing each call), then
// waiting for them. The clock stops after closing, which the system uses
// to finish its last commits; read_ms is the time until the last result was
// read, before closing.
func produce(n, producers int, submit func(i int) (wait func() error, err error), closing func() error) (measurement, error) {
	lat := make([][]time.Duration, producers)
	errs := make([]error, producers)
	release := make(chan struct{})
	var ready, wg sync.WaitGroup
	for g := range producers {
		ready.Add(1)
		wg.Go(func() {
			var waits []func() error
			ready.Done()
			<-release
			for i := g; i < n; i += producers {
				t0 := time.Now()
				w, err := submit(i)
				lat[g] = append(lat[g], time.Since(t0))
				if err != nil {
					errs[g] = err
					return
				}
				waits = append(waits, w)
			}
			for _, w := range waits {
				if err := w(); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	ready.Wait()
	start := time.Now()
	close(release)
	wg.Wait()
	read := time.Since(start).Seconds()
	err := closing()
	secs := time.Since(start).Seconds()
	for _, e := range errs {
		err = cmpErr(err, e)
	}
	if err != nil {
		return measurement{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return measurement{Tasks: n, Seconds: secs, Extra: map[string]float64{
		"p50_us": percentileUS(all, 50), "p99_us": percentileUS(all, 99), "read_ms": read * 1e3,
	}}, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// w8Dir is a new directory for one run's database, in the temp directory
// that every system uses, so that all write to the same disk.
func w8Dir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "ltbench-w8")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// w8Mode is how a localtasks system of W8 keeps its runs.
type w8Mode int

const (
	w8Durable w8Mode = iota // sqlitejournal, JournalDurable
	w8Batched               // sqlitejournal, JournalBatched
	w8Memory                // no journal
)

// w8LocalTasks measures a thread pool of 8 workers whose runs are journaled
// as mode says on a new sqlitejournal file.
func w8LocalTasks(ctx context.Context, n, producers int, mode w8Mode) (measurement, error) {
	cfg := localtasks.Config{MaxResults: n}
	if mode != w8Memory {
		dir, cleanup, err := w8Dir()
		if err != nil {
			return measurement{}, err
		}
		defer cleanup()
		j, err := sqlitejournal.Open(filepath.Join(dir, "journal.db"))
		if err != nil {
			return measurement{}, err
		}
		defer j.Close()
		cfg.Name, cfg.Journal, cfg.JournalMode = "bench", j, localtasks.JournalDurable
		if mode == w8Batched {
			cfg.JournalMode = localtasks.JournalBatched
		}
	}
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: w8Workers, Config: cfg})
	if err != nil {
		return measurement{}, err
	}
	closed := false
	defer func() {
		if !closed {
			b.Close(ctx)
		}
	}()
	m, err := produce(n, producers, func(i int) (func() error, error) {
		h, err := noopTask.Enqueue(ctx, b, i)
		if err != nil {
			return nil, err
		}
		id := h.ID()
		return func() error {
			res, err := b.Wait(ctx, id)
			if err != nil {
				return err
			}
			if res.Status != localtasks.StatusSuccessful || res.Value != any(i) {
				return fmt.Errorf("task %d ended %v with %v", i, res.Status, res.Value)
			}
			return nil
		}, nil
	}, func() error { closed = true; return b.Close(ctx) })
	if err != nil {
		return m, err
	}
	if cfg.Journal != nil {
		// Runs a commit: each commit costs about 1.35 fsyncs
		// (sqlitejournal's MEASUREMENTS.md), so fsyncs a run are about
		// 1.35 / runs_per_commit.
		if c := b.Counters(); c.JournalCommits > 0 {
			m.Extra["runs_per_commit"] = float64(n) / float64(c.JournalCommits)
		}
	}
	return m, nil
}

// w8OpenSQLite opens a new SQLite file for a peer as sqlitejournal opens
// its own: WAL, synchronous=FULL (each commit fsync'ed), a busy timeout,
// and one connection, as goqite's README and riversqlite's doc advise.
func w8OpenSQLite(path string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: path}
	db, err := sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// goqiteSchema is goqite v0.4.0's schema_sqlite.sql.
const goqiteSchema = `
create table goqite (
  id text primary key default ('m_' || lower(hex(randomblob(16)))),
  created text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  updated text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  queue text not null,
  body blob not null,
  timeout text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  received integer not null default 0,
  priority integer not null default 0
) strict;

create trigger goqite_updated_timestamp after update on goqite begin
  update goqite set updated = strftime('%Y-%m-%dT%H:%M:%fZ') where id = old.id;
end;

create index goqite_queue_priority_created_idx on goqite (queue, priority desc, created);
`

// w8Goqite measures goqite's job runner: jobs.Create from the producers, a
// Runner with Limit 8. goqite keeps no result: the job writes its value to
// memory, and a run is done when its message is deleted, which the
// runner does after the job returns; stopping the runner waits for those.
func w8Goqite(ctx context.Context, p params) (measurement, error) {
	dir, cleanup, err := w8Dir()
	if err != nil {
		return measurement{}, err
	}
	defer cleanup()
	db, err := w8OpenSQLite(filepath.Join(dir, "goqite.db"))
	if err != nil {
		return measurement{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, goqiteSchema); err != nil {
		return measurement{}, err
	}
	q := goqite.New(goqite.NewOpts{DB: db, Name: "bench"})
	r := jobs.NewRunner(jobs.NewRunnerOpts{Limit: w8Workers, PollInterval: time.Millisecond, Queue: q})
	values := make([]int, p.N)
	done := make([]chan struct{}, p.N)
	for i := range done {
		done[i] = make(chan struct{})
	}
	r.Register("noop", func(ctx context.Context, m []byte) error {
		i := int(binary.LittleEndian.Uint64(m))
		values[i] = noop(i)
		close(done[i])
		return nil
	})
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	stopped := make(chan struct{})
	go func() { r.Start(rctx); close(stopped) }()
	m, err := produce(p.N, w8Producers, func(i int) (func() error, error) {
		if _, err := jobs.Create(ctx, q, "noop", goqite.Message{Body: binary.LittleEndian.AppendUint64(nil, uint64(i))}); err != nil {
			return nil, err
		}
		return func() error {
			<-done[i]
			if values[i] != i {
				return fmt.Errorf("job %d returned %d", i, values[i])
			}
			return nil
		}, nil
	}, func() error { stop(); <-stopped; return nil })
	if err != nil {
		return m, err
	}
	// A Delete that fails (the runner gives it 1 s, and logs) leaves the
	// message to be received again after its timeout: counted, as goqite
	// would run that job twice.
	var left int
	if err := db.QueryRowContext(ctx, "select count(*) from goqite").Scan(&left); err != nil {
		return m, err
	}
	m.Extra["undeleted"] = float64(left)
	return m, nil
}
