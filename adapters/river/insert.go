package river

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// newJob is a checked run, ready to insert: its job's args and River's
// options for it.
type newJob struct {
	args     jobArgs
	opts     *river.InsertOpts
	deferred bool   // it has a run-after time, which b.timers keeps and b.notify announces
	replace  bool   // it takes its key from the queued or scheduled run that holds it
	struck   string // a strike matches it: the reason it is cancelled at once
}

// prepare checks a run of task with args and opts, as Enqueue does, and
// makes its job, marked if a strike in force matches it. It reads nothing
// from the database.
func (b *Backend) prepare(task localtasks.Definition, args any, opts localtasks.Options, carrier map[string]string) (newJob, error) {
	j, err := b.makeJob(task, args, opts, carrier)
	if err != nil {
		return newJob{}, err
	}
	b.strikes.mark(&j, task, args)
	return j, nil
}

// makeJob is prepare without the strikes: for a job inserted later, and
// not by this adapter (a periodic job's), which the worker checks. carrier
// is Config.Propagator's of the Enqueue, nil for none.
func (b *Backend) makeJob(task localtasks.Definition, args any, opts localtasks.Options, carrier map[string]string) (newJob, error) {
	// A perpetual run is checked as one, then refused: see perpetualRefused.
	caps := Capabilities
	p := opts.Perpetual
	perpetual := p.Every > 0 || p.Cron != "" || p.Schedule != nil
	caps.Perpetual = caps.Perpetual || perpetual
	if err := backendkit.CheckRequest(backendkit.Request{Backend: b.cfg.Name, Capabilities: caps, Queues: b.cfg.Queues, Task: task, Args: args, Options: &opts}); err != nil {
		return newJob{}, err
	}
	name := task.Name()
	if perpetual && !Capabilities.Perpetual {
		return newJob{}, perpetualRefused(name)
	}
	if err := checkTypes(task); err != nil {
		return newJob{}, fmt.Errorf("localtasks/river: enqueue %q: %v: use JSON-friendly types, or a ThreadPoolBackend; nothing was queued: %w", name, err, localtasks.ErrInvalidTask)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return newJob{}, fmt.Errorf("localtasks/river: enqueue %q: its argument, a %T, cannot be JSON-encoded (%v); nothing was queued: %w", name, args, err, localtasks.ErrInvalidTask)
	}
	now := b.clock.Now()
	runAt := opts.RunAt
	if opts.Delay > 0 {
		runAt = now.Add(opts.Delay)
	}
	if !runAt.After(now) {
		runAt = time.Time{}
	}
	if d := opts.Retry.Decide; d != nil && reflect.ValueOf(d).Pointer() != reflect.ValueOf(task.Options().Retry.Decide).Pointer() {
		return newJob{}, fmt.Errorf("localtasks/river: task %q: a RetryPolicy.Decide given at enqueue cannot reach the worker that runs the job: "+
			"give it on the task's Define, whose Decide every worker has: %w", name, errors.ErrUnsupported)
	}
	var meta []byte // none for the defaults: less to store, and to read at each attempt
	if m := (jobMeta{Priority: opts.Priority, Timeout: opts.Timeout, Retry: opts.Retry, Trace: carrier}); !reflect.ValueOf(m).IsZero() {
		if meta, err = json.Marshal(map[string]any{metaKey: m}); err != nil {
			return newJob{}, err
		}
	}
	insert := &river.InsertOpts{
		MaxAttempts: maxAttempts(opts.Retry),
		Priority:    riverPriority(opts.Priority),
		Queue:       opts.Queue,
		Metadata:    meta,
		ScheduledAt: runAt,
	}
	if opts.Key != "" {
		insert.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: unfinishedStates}
	}
	return newJob{args: jobArgs{kind: name, Key: opts.Key, Args: raw}, opts: insert, deferred: !runAt.IsZero(), replace: opts.Replace}, nil
}

// insertion is what insert did with each of its jobs.
type insertion struct {
	jobs     []newJob
	receipts []localtasks.Receipt
	rows     []*rivertype.JobRow // each new run's job; nil where the receipt is of a run already there
	replaced []int64             // the runs cancelled in favour of new ones
	release  func()              // lets their start events go; nil if none are held
}

// done lets the start events of ins's runs go, once: see order.
func (ins *insertion) done() {
	if ins.release != nil {
		ins.release()
		ins.release = nil
	}
}

// insert inserts jobs, all or none: in tx if it is not nil, else in a
// transaction of its own. Without replacements that is one statement,
// River's InsertMany. A job whose key an earlier one of jobs holds is not
// inserted: it gets the earlier one's run, AlreadyEnqueued, as it would
// by enqueueing one after the other. Call inserted once the jobs are
// committed (at once when tx is nil).
func (b *Backend) insert(ctx context.Context, tx pgx.Tx, jobs []newJob) (*insertion, error) {
	ins := &insertion{jobs: jobs, receipts: make([]localtasks.Receipt, len(jobs)), rows: make([]*rivertype.JobRow, len(jobs))}
	replace, struck := false, false
	for _, j := range jobs {
		replace = replace || j.replace
		struck = struck || j.struck != ""
	}
	// With subscribers, the runs' start events wait for their enqueue
	// events, which inserted publishes after the commit: held from before
	// it, as a worker here may take a run as soon as it is committed.
	hold := tx == nil && b.events.Subscribed()
	if !replace && !struck && !hold {
		if err := b.insertMany(ctx, tx, ins); err != nil { // tx, or River's own transaction
			return nil, err
		}
		return ins, nil
	}
	// A struck run is inserted and cancelled in one transaction: no
	// worker ever sees it queued.
	in := tx
	if in == nil {
		own, err := b.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer own.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		in = own
	}
	var err error
	if replace {
		err = b.replaceAll(ctx, in, ins)
	} else {
		err = b.insertMany(ctx, in, ins)
	}
	if err == nil {
		err = b.cancelStruck(ctx, in, ins)
	}
	if err == nil && hold {
		ins.release = b.order.hold(ins.rows)
	}
	if err == nil && tx == nil {
		err = in.Commit(ctx)
	}
	if err != nil {
		ins.done()
		return nil, err
	}
	return ins, nil
}

// insertMany inserts ins.jobs with one InsertMany, in tx if it is not nil.
func (b *Backend) insertMany(ctx context.Context, tx pgx.Tx, ins *insertion) error {
	jobs := ins.jobs
	// Leave out the jobs whose key an earlier one holds: one statement
	// cannot insert two rows of one key.
	params := make([]river.InsertManyParams, 0, len(jobs))
	at := make([]int, len(jobs)) // the index in params of job i's run
	var keys map[string]int
	for i, j := range jobs {
		if j.args.Key != "" && j.struck == "" { // a struck run holds no key
			k := j.args.kind + "\x00" + j.args.Key
			if first, ok := keys[k]; ok {
				at[i] = at[first]
				continue
			}
			if keys == nil {
				keys = map[string]int{}
			}
			keys[k] = i
		}
		at[i] = len(params)
		params = append(params, river.InsertManyParams{Args: j.args, InsertOpts: j.opts})
	}
	var res []*rivertype.JobInsertResult
	var err error
	if tx == nil {
		res, err = b.client.InsertMany(ctx, params)
	} else {
		res, err = b.client.InsertManyTx(ctx, tx, params)
	}
	if err != nil {
		return err
	}
	if len(res) != len(params) {
		return fmt.Errorf("River inserted %d jobs of %d", len(res), len(params))
	}
	taken := make([]bool, len(params))
	for i := range jobs {
		r := res[at[i]]
		ins.receipts[i] = localtasks.Receipt{ID: formatID(r.Job.ID), Disposition: localtasks.Enqueued}
		if r.UniqueSkippedAsDuplicate || taken[at[i]] {
			ins.receipts[i].Disposition = localtasks.AlreadyEnqueued
			continue
		}
		taken[at[i]] = true
		ins.rows[i] = r.Job
	}
	return nil
}

// replaceAll inserts ins.jobs one after the other in tx, each with
// replace in place of the queued or scheduled run that holds its key, so
// that no insert sees the key free between.
func (b *Backend) replaceAll(ctx context.Context, tx pgx.Tx, ins *insertion) error {
	for i, j := range ins.jobs {
		res, err := b.client.InsertTx(ctx, tx, j.args, j.opts)
		if err != nil {
			return err
		}
		if !res.UniqueSkippedAsDuplicate {
			ins.receipts[i], ins.rows[i] = localtasks.Receipt{ID: formatID(res.Job.ID), Disposition: localtasks.Enqueued}, res.Job
			continue
		}
		old := res.Job
		if !j.replace || old.State == rivertype.JobStateRunning {
			ins.receipts[i] = localtasks.Receipt{ID: formatID(old.ID), Disposition: localtasks.AlreadyEnqueued}
			continue
		}
		if _, err := b.client.JobCancelTx(ctx, tx, old.ID); err != nil {
			return err
		}
		res, err = b.client.InsertTx(ctx, tx, j.args, j.opts)
		if err != nil {
			return err
		}
		if res.UniqueSkippedAsDuplicate {
			return fmt.Errorf("the key %q is still held after cancelling run %d", j.args.Key, old.ID)
		}
		if err := b.setCancelReason(ctx, tx, old.ID, "replaced by run "+formatID(res.Job.ID)); err != nil {
			return err
		}
		ins.receipts[i], ins.rows[i] = localtasks.Receipt{ID: formatID(res.Job.ID), Disposition: localtasks.Replaced}, res.Job
		ins.replaced = append(ins.replaced, old.ID)
	}
	return nil
}

// inserted tells of the runs insert inserted, once they are committed: it
// arms and announces the timers of deferred runs, publishes their events, and wakes the
// waiters of the runs they replaced.
func (b *Backend) inserted(ins *insertion) {
	b.stats.inserted(ins)
	for i, row := range ins.rows {
		if row == nil {
			continue
		}
		if ins.jobs[i].struck != "" {
			b.publishStruck(row)
			continue
		}
		if ins.jobs[i].deferred {
			b.deferred(row.Queue, row.ID, row.ScheduledAt)
		}
		b.publish(localtasks.EventEnqueued, row)
	}
	ins.done()
	for _, id := range ins.replaced { // after the timers: a batch may replace its own runs
		b.timers.remove(id)
		b.finished(id, nil)
	}
}

// order holds back this process's start events of the runs it is
// enqueuing until it has published their enqueue events, so that a
// subscriber sees a run enqueued before it sees it start.
type order struct {
	held atomic.Int64 // batches held: a start checks the map only if some are
	mu   sync.Mutex
	runs map[int64]chan struct{} // closed when the run's enqueue event is out
}

// hold holds the start events of rows' runs until release is called.
func (o *order) hold(rows []*rivertype.JobRow) (release func()) {
	ch := make(chan struct{})
	o.held.Add(1)
	o.mu.Lock()
	if o.runs == nil {
		o.runs = map[int64]chan struct{}{}
	}
	for _, row := range rows {
		if row != nil {
			o.runs[row.ID] = ch
		}
	}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		for _, row := range rows {
			if row != nil {
				delete(o.runs, row.ID)
			}
		}
		o.mu.Unlock()
		close(ch)
		o.held.Add(-1)
	}
}

// wait returns once the start event of job id may be published.
func (o *order) wait(id int64) {
	if o.held.Load() == 0 {
		return
	}
	o.mu.Lock()
	ch := o.runs[id]
	o.mu.Unlock()
	if ch != nil {
		<-ch
	}
}
