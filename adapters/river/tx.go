package river

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
)

// EnqueueTx is Enqueue inside the caller's transaction, as River's
// InsertTx: the run's job is inserted in tx, so it commits or rolls back
// with what else tx writes, such as the row a handler saves and the task
// that mails about it. Until tx commits no worker sees the run, and
// GetResult, Wait and Cancel, which read outside tx, report
// ErrResultNotFound for it; after a rollback it never existed. tx must be
// on the database of b's pool; it stays the caller's to commit or roll
// back.
//
// Its checks and errors are Enqueue's, made before tx is used: a refused
// request (ErrInvalidTask, ErrUnsupported, ErrClosed and the like) leaves
// tx as it was, usable. An error from the database itself, such as a
// unique violation or a lost connection, aborts tx as any failed statement
// does in PostgreSQL: roll it back. A key's unique check sees tx's own
// uncommitted runs and, as for any insert, waits on another transaction's
// uncommitted run of the same key until that one ends. WithReplace
// cancels the run it replaces in tx too, under a savepoint of it.
//
// No EventEnqueued is published for a run enqueued so, for this process
// cannot know whether tx will commit: subscribers hear of the run first
// when a worker here starts it. A deferred run's timer (see Config.Clock)
// is armed at once and is harmless if tx rolls back; if it fires before tx
// commits, River's scheduler makes the run ready instead, within a few
// seconds of its time.
func (b *Backend) EnqueueTx(ctx context.Context, tx pgx.Tx, task localtasks.Definition, args any, opts localtasks.Options) (localtasks.Receipt, error) {
	if tctx, end := b.traceEnqueue(ctx, task, opts.Queue, 1); end != nil {
		r, err := b.enqueueTx(tctx, tx, task, args, opts)
		endOne(end, r, err)
		return r, err
	}
	return b.enqueueTx(ctx, tx, task, args, opts)
}

// enqueueTx is EnqueueTx's, traced or not.
func (b *Backend) enqueueTx(ctx context.Context, tx pgx.Tx, task localtasks.Definition, args any, opts localtasks.Options) (localtasks.Receipt, error) {
	if tx == nil {
		return localtasks.Receipt{}, errNilTx(b, task)
	}
	j, err := b.prepareOne(ctx, task, args, opts)
	if err != nil {
		return localtasks.Receipt{}, err
	}
	in := tx
	if j.replace {
		// A savepoint: a replace takes several statements, and one that
		// fails half-way must leave tx as it was.
		if in, err = tx.Begin(ctx); err != nil {
			return localtasks.Receipt{}, fmt.Errorf("localtasks/river: enqueue %q: %w", task.Name(), err)
		}
		defer in.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	}
	ins, err := b.insert(ctx, in, []newJob{j})
	if err == nil && in != tx {
		err = in.Commit(ctx) // releases the savepoint
	}
	if err == nil {
		err = b.insertedTx(ctx, tx, ins)
	}
	if err != nil {
		return localtasks.Receipt{}, fmt.Errorf("localtasks/river: enqueue %q: %w", task.Name(), err)
	}
	return ins.receipts[0], nil
}

// EnqueueTx enqueues a run of task with args on b inside tx, with the
// task's options (use task.Using for others), and returns a handle to it,
// as task.Enqueue does; see Backend.EnqueueTx for what the transaction
// changes. The handle reads the run outside tx, through b: it reports
// ErrResultNotFound until tx commits, and for ever after a rollback.
//
//	tx, err := pool.Begin(ctx)
//	...
//	_, err = tx.Exec(ctx, "INSERT INTO orders ...")
//	h, err := ltriver.EnqueueTx(ctx, backend, tx, SendReceipt, ReceiptArgs{Order: id})
//	...
//	err = tx.Commit(ctx)
func EnqueueTx[A, R any](ctx context.Context, b *Backend, tx pgx.Tx, task *localtasks.Task[A, R], args A) (localtasks.Handle[R], error) {
	if tx == nil {
		return localtasks.Handle[R]{}, errNilTx(b, task.Definition())
	}
	return task.Enqueue(ctx, txBackend{b: b, tx: tx}, args)
}

func errNilTx(b *Backend, task localtasks.Definition) error {
	return fmt.Errorf("localtasks/river: enqueue %q on backend %q in a transaction: the transaction is nil: "+
		"pass the pgx.Tx of pool.Begin, or call Enqueue; nothing was queued: %w", task.Name(), b.cfg.Name, localtasks.ErrInvalidTask)
}

// insertedTx is inserted for runs insert put in the caller's tx, which may
// yet roll back: a deferred run's timer is armed and announced (harmless
// if tx rolls back: the job it looks for is not there), no EventEnqueued is
// published, and the runs replaced are announced by a NOTIFY in tx, which
// PostgreSQL delivers when tx commits, to this process's listener too.
func (b *Backend) insertedTx(ctx context.Context, tx pgx.Tx, ins *insertion) error {
	b.stats.inserted(ins)
	for i, row := range ins.rows {
		if row != nil && ins.jobs[i].deferred {
			b.deferred(row.Queue, row.ID, row.ScheduledAt)
		}
	}
	if len(ins.replaced) == 0 {
		return nil
	}
	ids := make([]string, len(ins.replaced))
	for i, id := range ins.replaced {
		ids[i] = formatID(id)
	}
	// "tx" is no backend's nonce, so every listener, this one's included,
	// wakes the replaced runs' waiters.
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, b.cfg.Schema+":tx:"+strings.Join(ids, ","))
	return err
}

// txBackend is b with its Enqueue in tx, for the handles of EnqueueTx:
// everything else, and so every method a handle calls, is b's, outside tx.
type txBackend struct {
	b  *Backend
	tx pgx.Tx
}

var (
	_ localtasks.Backend = txBackend{}
	_ localtasks.Watcher = txBackend{}
)

func (t txBackend) Name() string                          { return t.b.Name() }
func (t txBackend) Capabilities() localtasks.Capabilities { return t.b.Capabilities() }
func (t txBackend) Close(ctx context.Context) error       { return t.b.Close(ctx) }
func (t txBackend) Cancel(ctx context.Context, id string) error {
	return t.b.Cancel(ctx, id)
}

func (t txBackend) Enqueue(ctx context.Context, task localtasks.Definition, args any, opts localtasks.Options) (localtasks.Receipt, error) {
	return t.b.EnqueueTx(ctx, t.tx, task, args, opts)
}

func (t txBackend) GetResult(ctx context.Context, id string) (localtasks.TaskResult, error) {
	return t.b.GetResult(ctx, id)
}

func (t txBackend) Wait(ctx context.Context, id string) (localtasks.TaskResult, error) {
	return t.b.Wait(ctx, id)
}

func (t txBackend) Watch(ctx context.Context, id string) iter.Seq2[localtasks.TaskResult, error] {
	return t.b.Watch(ctx, id)
}
