package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// Strikes live in a table of the adapter's own, strikeTable in the
// backend's schema, so that every process on the database applies the same
// ones. Each process keeps them in memory (strikeCache): an Enqueue or a
// run about to start compares its argument with that copy and reads no
// table. A Strike or Restore changes the table and, in the same
// transaction, notifies strikeChannel; every process's listener (the
// notifier's, see result.go) reloads its copy on the notification, and
// every strikeRefresh besides, in case one was lost.

// strikeTable is the table of strikes, in the backend's schema.
const strikeTable = "localtasks_strike"

// strikeChannel is the channel strike changes are announced on; the
// payload is the schema.
const strikeChannel = "localtasks_strikes"

// strikeRefresh is how often a process reloads the strikes whatever it
// heard: the bound on how stale its copy is should a notification be lost.
const strikeRefresh = 5 * time.Second

// strikeTimeout bounds the queries of Strike and Restore, which take no
// ctx.
const strikeTimeout = 30 * time.Second

// struckKey marks in a job's metadata a run struck by a worker, whose
// attempt River counted though it never ran.
const struckKey = "localtasks_struck"

// migrateStrikes creates the table of strikes in schema if it is not
// there.
func migrateStrikes(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+strikeTableName(schema)+` (
	id         bigserial PRIMARY KEY,
	task       text NOT NULL,
	field      text NOT NULL,
	op         text NOT NULL,
	value_type text NOT NULL,
	value      text NOT NULL,
	upper_type text NOT NULL,
	upper      text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`)
	if err != nil {
		return fmt.Errorf("localtasks/river: migrate: creating the table of strikes in schema %q: %w", schema, err)
	}
	return nil
}

// strikeTableName is the table of strikes of schema, quoted.
func strikeTableName(schema string) string {
	if schema == "" {
		return pgx.Identifier{strikeTable}.Sanitize()
	}
	return pgx.Identifier{schema, strikeTable}.Sanitize()
}

// strikeCache is this process's copy of the strikes in force.
type strikeCache struct {
	b     *Backend
	table string
	cur   atomic.Pointer[strikeSet]
	kick  chan struct{} // a reload is wanted
	// struck counts the runs struck here, at enqueue or before they ran.
	struck atomic.Uint64

	mu      sync.Mutex    // serialises loads, so that the last read is the one kept
	changed chan struct{} // closed and replaced by each load; guarded by mu
}

// strikeSet is the strikes in force, oldest first, each with its rule;
// a rule is nil for a strike this process cannot check, such as one on a
// task it does not define.
type strikeSet struct {
	list  []localtasks.Strike
	rules []*backendkit.StrikeRule
	ids   []int64
}

func newStrikeCache(b *Backend) *strikeCache {
	s := &strikeCache{b: b, table: strikeTableName(b.cfg.Schema), kick: make(chan struct{}, 1), changed: make(chan struct{})}
	s.cur.Store(&strikeSet{})
	return s
}

// load reads the strikes into the copy. A table that is missing gives an
// error that says to run Migrate.
func (s *strikeCache) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.read(ctx, s.b.pool)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return fmt.Errorf("localtasks/river: the table of strikes %s is missing: run ltriver.Migrate on schema %q (it is safe to run again): %w",
				s.table, s.b.cfg.Schema, localtasks.ErrConfig)
		}
		return fmt.Errorf("localtasks/river: reading the strikes: %w", err)
	}
	s.cur.Store(set)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// read reads and compiles the strikes in force.
func (s *strikeCache) read(ctx context.Context, q querier) (*strikeSet, error) {
	rows, err := q.Query(ctx, "SELECT id, task, field, op, value_type, value, upper_type, upper FROM "+s.table+" ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := &strikeSet{}
	for rows.Next() {
		var id int64
		var task, field, op, vt, v, ut, u string
		if err := rows.Scan(&id, &task, &field, &op, &vt, &v, &ut, &u); err != nil {
			return nil, err
		}
		st := localtasks.Strike{Task: task, Field: field, Op: localtasks.Operator(op)}
		if st.Value, err = decodeStrikeValue(vt, v); err == nil {
			st.Upper, err = decodeStrikeValue(ut, u)
		}
		if err != nil {
			// Not this version's: leave it to the processes that know it.
			s.b.logger.Warn("localtasks/river: a strike in the table cannot be read; it is not applied here", "strike", id, "error", err)
			continue
		}
		r, _ := backendkit.CompileStrike(st) // nil: not checkable here
		set.list = append(set.list, st)
		set.rules = append(set.rules, r)
		set.ids = append(set.ids, id)
	}
	return set, rows.Err()
}

// run reloads the strikes when told to, and every strikeRefresh, until
// ctx ends.
func (s *strikeCache) run(ctx context.Context) {
	t := time.NewTicker(strikeRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.kick:
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if err := s.load(ctx); err != nil && ctx.Err() == nil {
			s.b.logger.Warn("localtasks/river: cannot reload the strikes; retrying", "error", err)
		}
	}
}

// reload asks run to reload the strikes.
func (s *strikeCache) reload() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// match returns the first strike that strikes a run of task with args, or
// nil. Without strikes it costs an atomic load.
func (s *strikeCache) match(task localtasks.Definition, args any) *localtasks.Strike {
	set := s.cur.Load()
	for i, r := range set.rules {
		if r != nil && r.Matches(task, args) {
			return &set.list[i]
		}
	}
	return nil
}

// mark makes j a struck run if a strike matches it: a run made and
// cancelled at once, with no key held, as insert does with it.
func (s *strikeCache) mark(j *newJob, task localtasks.Definition, args any) {
	if st := s.match(task, args); st != nil {
		j.struck = "struck: " + st.String()
		j.opts.UniqueOpts = river.UniqueOpts{}
	}
}

var _ localtasks.Striker = (*Backend)(nil)

// Strike blocks the runs st matches, in every process on b's schema: an
// Enqueue of one returns the disposition Struck, its run made and
// CANCELLED at once, and a queued or scheduled one ends CANCELLED when a
// worker would start it. st is checked as localtasks.Strike says; an
// invalid one is an error matching localtasks.ErrInvalidTask. Striking
// what is struck already changes nothing.
//
// The strike is in the table of strikes when Strike returns, and in force
// in this process; the other processes hear of it by LISTEN/NOTIFY within
// milliseconds, and reread the table every five seconds in any case.
func (b *Backend) Strike(st localtasks.Strike) error {
	r, err := backendkit.CompileStrike(st)
	if err != nil {
		return err
	}
	v, vt, err := encodeStrikeValue(st.Value)
	if err == nil {
		var u, ut string
		if u, ut, err = encodeStrikeValue(st.Upper); err == nil {
			err = b.changeStrikes(st, r, func(ctx context.Context, tx pgx.Tx, _ int64) error {
				_, err := tx.Exec(ctx, "INSERT INTO "+b.strikes.table+" (task, field, op, value_type, value, upper_type, upper) VALUES ($1, $2, $3, $4, $5, $6, $7)",
					st.Task, st.Field, string(st.Op), vt, v, ut, u)
				return err
			}, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("localtasks/river: strike %s: %w", st, err)
	}
	return nil
}

// Restore lifts a strike given earlier, in every process on b's schema,
// matched by its task, field, operator and values as converted to the
// field's type. Runs already struck stay CANCELLED. A strike not in force
// is an error matching localtasks.ErrInvalidTask; so is one this process
// cannot check, such as a strike on a task it does not define: restore it
// from a process that defines the task.
func (b *Backend) Restore(st localtasks.Strike) error {
	r, err := backendkit.CompileStrike(st)
	if err != nil {
		return err
	}
	missing := fmt.Errorf("localtasks/river: restore %s: no such strike is in force on backend %q: Strikes lists those that are: %w", st, b.cfg.Name, localtasks.ErrInvalidTask)
	err = b.changeStrikes(st, r, nil, func(ctx context.Context, tx pgx.Tx, id int64) error {
		_, err := tx.Exec(ctx, "DELETE FROM "+b.strikes.table+" WHERE id = $1", id)
		return err
	})
	switch {
	case errors.Is(err, errNoStrike):
		return missing
	case err != nil:
		return fmt.Errorf("localtasks/river: restore %s: %w", st, err)
	}
	return nil
}

var errNoStrike = errors.New("no such strike")

// changeStrikes changes the table of strikes in a transaction that holds
// off other changes: it calls absent if no strike is the same as r, or
// present with the ID of the one that is, then announces the change to
// every process and reloads this one's copy. A nil absent makes an absent
// strike errNoStrike; a nil present leaves a present one be.
func (b *Backend) changeStrikes(st localtasks.Strike, r *backendkit.StrikeRule, absent, present func(context.Context, pgx.Tx, int64) error) error {
	if b.closed.Load() {
		return fmt.Errorf("backend %q is closed: %w", b.cfg.Name, localtasks.ErrClosed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), strikeTimeout)
	defer cancel()
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	// One change at a time, so that two processes striking the same
	// thing at once make one strike; reads of the table go on.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+b.strikes.table+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return err
	}
	set, err := b.strikes.read(ctx, tx)
	if err != nil {
		return err
	}
	var id int64
	for i, o := range set.rules {
		if o != nil && o.Same(r) {
			id = set.ids[i]
			break
		}
	}
	change := absent
	if id != 0 {
		change = present
	}
	if change == nil {
		// Struck already, or nothing to restore: this process's copy may
		// not know it yet.
		_ = tx.Rollback(ctx)
		if err := b.strikes.load(ctx); err != nil {
			return err
		}
		if id == 0 {
			return errNoStrike
		}
		return nil
	}
	if err := change(ctx, tx, id); err != nil {
		return err
	}
	// Delivered when tx commits, to this process's listener too.
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", strikeChannel, b.cfg.Schema); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// In force here before Strike returns, whenever the notification
	// comes.
	if err := b.strikes.load(ctx); err != nil {
		return fmt.Errorf("it is made, but this process could not reread the strikes, and will in %v: %w", strikeRefresh, err)
	}
	return nil
}

// Strikes lists the strikes in force on b's schema, oldest first, as this
// process last read them: those made anywhere on the schema, at most a few
// milliseconds (by notification) or five seconds (should one be lost)
// behind. A value is listed as the type it was given with, or as its
// underlying type for a named one (a Shop string is a string).
func (b *Backend) Strikes() []localtasks.Strike {
	set := b.strikes.cur.Load()
	if len(set.list) == 0 {
		return nil
	}
	return append([]localtasks.Strike(nil), set.list...)
}

// cancelStruck ends the struck runs among ins's new jobs, inserted in tx,
// CANCELLED with the strike as reason, in one statement, and gives them
// the disposition Struck.
func (b *Backend) cancelStruck(ctx context.Context, tx pgx.Tx, ins *insertion) error {
	var ids []int64
	var reasons []string
	for i, j := range ins.jobs {
		if j.struck != "" && ins.rows[i] != nil {
			ids = append(ids, ins.rows[i].ID)
			reasons = append(reasons, j.struck)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	now := b.clock.Now().UTC()
	_, err := tx.Exec(ctx, "UPDATE "+b.table+" AS j SET state = 'cancelled', finalized_at = $4, metadata = j.metadata || jsonb_build_object($3::text, s.reason) "+
		"FROM unnest($1::bigint[], $2::text[]) AS s(id, reason) WHERE j.id = s.id", ids, reasons, cancelReasonKey, now)
	if err != nil {
		return err
	}
	for i, j := range ins.jobs {
		if j.struck == "" || ins.rows[i] == nil {
			continue
		}
		ins.receipts[i].Disposition = localtasks.Struck
		row := *ins.rows[i]
		row.State, row.FinalizedAt = rivertype.JobStateCancelled, &now
		row.Metadata = mergeMeta(row.Metadata, cancelReasonKey, j.struck)
		ins.rows[i] = &row
	}
	b.strikes.struck.Add(uint64(len(ids)))
	b.stats.cancelled.Add(uint64(len(ids))) // as the pools count a struck run: enqueued, cancelled and struck
	return nil
}

// strikeStart ends a job a strike matches, as a worker takes it, CANCELLED
// with the strike as reason, without running it: it returns the error for
// Work to return, or nil if no strike matches; args is the run's argument,
// decoded, and failed says an attempt of it failed before. Without strikes
// it costs an atomic load.
func (b *Backend) strikeStart(ctx context.Context, def localtasks.Definition, job *river.Job[jobArgs], args any, failed bool) error {
	if len(b.strikes.cur.Load().rules) == 0 {
		return nil
	}
	st := b.strikes.match(def, args)
	if st == nil {
		return nil
	}
	when := "before it started"
	if failed {
		when = "before its retry"
	}
	reason := "struck " + when + ": " + st.String()
	// River merges this with what it writes as it cancels the job.
	if _, err := b.pool.Exec(ctx, "UPDATE "+b.table+" SET metadata = metadata || jsonb_build_object($2::text, $3::text, $4::text, true) WHERE id = $1",
		job.ID, cancelReasonKey, reason, struckKey); err != nil {
		b.logger.Warn("localtasks/river: cannot record why a struck run was cancelled", "task", def.Name(), "task_id", formatID(job.ID), "error", err)
	}
	b.strikes.struck.Add(1)
	return river.JobCancel(errors.New(reason))
}

// unstrikeAttempt takes back from res the attempt River counted for a run
// that a worker struck (see strikeStart), which never ran.
func unstrikeAttempt(res *localtasks.TaskResult) {
	if res.Attempts == 0 {
		return
	}
	res.Attempts--
	if n := len(res.WorkerIDs); n > 0 {
		res.WorkerIDs = res.WorkerIDs[:n-1]
	}
	if res.Attempts == 0 {
		res.StartedAt, res.LastAttemptedAt, res.WorkerIDs = time.Time{}, time.Time{}, nil
	}
}

// mergeMeta returns metadata with key set to value.
func mergeMeta(metadata []byte, key, value string) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(metadata, &m)
	m[key], _ = json.Marshal(value)
	out, _ := json.Marshal(m)
	return out
}

// encodeStrikeValue is a strike's value as its type and text, for the table
// of strikes: a number, string, bool or time.Time, or nil ("", "").
func encodeStrikeValue(v any) (text, typ string, err error) {
	if v == nil {
		return "", "", nil
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano), "time", nil
	}
	rv := reflect.ValueOf(v)
	k := rv.Kind()
	switch {
	case rv.CanInt():
		return strconv.FormatInt(rv.Int(), 10), k.String(), nil
	case rv.CanUint():
		return strconv.FormatUint(rv.Uint(), 10), k.String(), nil
	case rv.CanFloat():
		return strconv.FormatFloat(rv.Float(), 'g', -1, rv.Type().Bits()), k.String(), nil
	case k == reflect.String:
		return rv.String(), "string", nil
	case k == reflect.Bool:
		return strconv.FormatBool(rv.Bool()), "bool", nil
	}
	return "", "", fmt.Errorf("a value of type %T cannot be kept in the table of strikes: give a number, string, bool or time.Time: %w", v, localtasks.ErrInvalidTask)
}

// strikeKinds are the kinds encodeStrikeValue names, by name.
var strikeKinds = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, v := range []any{int(0), int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0), uint32(0), uint64(0), uintptr(0),
		float32(0), float64(0), "", false} {
		t := reflect.TypeOf(v)
		m[t.Kind().String()] = t
	}
	return m
}()

// decodeStrikeValue is encodeStrikeValue's inverse.
func decodeStrikeValue(typ, text string) (any, error) {
	if typ == "" {
		return nil, nil
	}
	if typ == "time" {
		return time.Parse(time.RFC3339Nano, text)
	}
	t, ok := strikeKinds[typ]
	if !ok {
		return nil, fmt.Errorf("unknown value type %q", typ)
	}
	v := reflect.New(t).Elem()
	var err error
	switch {
	case v.CanInt():
		var n int64
		if n, err = strconv.ParseInt(text, 10, t.Bits()); err == nil {
			v.SetInt(n)
		}
	case v.CanUint():
		var n uint64
		if n, err = strconv.ParseUint(text, 10, t.Bits()); err == nil {
			v.SetUint(n)
		}
	case v.CanFloat():
		var f float64
		if f, err = strconv.ParseFloat(text, t.Bits()); err == nil {
			v.SetFloat(f)
		}
	case t.Kind() == reflect.String:
		v.SetString(text)
	case t.Kind() == reflect.Bool:
		var x bool
		if x, err = strconv.ParseBool(text); err == nil {
			v.SetBool(x)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("value %q of type %s: %w", text, typ, err)
	}
	return v.Interface(), nil
}

// publishStruck publishes the events of a run struck at enqueue, as the
// pools do: enqueued, then finished.
func (b *Backend) publishStruck(row *rivertype.JobRow) {
	if !b.events.Subscribed() {
		return
	}
	enq := *row
	enq.State, enq.FinalizedAt = rivertype.JobStateAvailable, nil
	b.publish(localtasks.EventEnqueued, &enq)
	b.publish(localtasks.EventFinished, row)
}
