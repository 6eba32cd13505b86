package river

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
)

// Pauses are River's queue pauses (Client.QueuePause): the paused_at of
// the queue's row in river_queue, which every process's workers obey.

var _ localtasks.Pauser = (*Backend)(nil)

// pauseTimeout bounds Pauses' query, which takes no ctx.
const pauseTimeout = 10 * time.Second

// Pause pauses p's queue, as River's QueuePause does, in every process on
// b's schema: their workers fetch no more of its jobs, which stay READY
// (or SCHEDULED until due) in their place; runs already fetched go on.
// River tells the workers by notification within milliseconds, or at its
// next poll of the queues, within a minute, should one be lost. Pausing a
// paused queue changes nothing. A queue no worker has worked yet is
// paused too: its workers start paused.
//
// When b has workers (Config.Workers above zero) and the queue was not
// paused, Pause returns once they have heard, so that none of its runs
// starts in this process after Pause returns: it waits for River's
// EventKindQueuePaused, up to ctx's end or ten seconds (then it logs a
// warning and returns nil: the queue is paused in the database, and the
// workers hear of it by River's next poll). Other processes' workers hear
// of it as River tells them.
//
// River pauses queues, not tasks: a Pause of a task is an error matching
// errors.ErrUnsupported. Give such a task a queue of its own
// (localtasks.WithQueue) and pause that, or strike its runs (Strike) to
// cancel them rather than hold them.
func (b *Backend) Pause(ctx context.Context, p localtasks.Pause) error {
	if err := b.checkPause(p, "pause"); err != nil {
		return err
	}
	var heard <-chan struct{}
	if b.cfg.Workers > 0 {
		// Before the pause, so as not to miss the workers' news of it.
		ch, done := b.heard.add(p.Queue)
		defer done()
		heard = ch
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("localtasks/river: pause %v: %w", p, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	// River pauses the queue's row, which its workers make when they
	// start: make it first, so that they start paused.
	if _, err := tx.Exec(ctx, "INSERT INTO "+b.queueTable()+" (name, created_at, metadata, updated_at) VALUES ($1, $2, '{}', $2) ON CONFLICT (name) DO NOTHING",
		p.Queue, b.clock.Now().UTC()); err != nil {
		return fmt.Errorf("localtasks/river: pause %v: %w", p, err)
	}
	var was bool // paused already: the workers hear of no change
	if err := tx.QueryRow(ctx, "SELECT paused_at IS NOT NULL FROM "+b.queueTable()+" WHERE name = $1", p.Queue).Scan(&was); err != nil {
		return fmt.Errorf("localtasks/river: pause %v: %w", p, err)
	}
	if err := b.client.QueuePauseTx(ctx, tx, p.Queue, nil); err != nil {
		return fmt.Errorf("localtasks/river: pause %v: %w", p, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("localtasks/river: pause %v: %w", p, err)
	}
	if heard == nil || was {
		return nil
	}
	timer := time.NewTimer(pauseTimeout)
	defer timer.Stop()
	select {
	case <-heard:
	case <-ctx.Done():
		b.logger.Warn("localtasks/river: paused a queue, but this process's workers had not heard of it when ctx ended; they will at River's next poll",
			"queue", p.Queue, "error", ctx.Err())
	case <-timer.C:
		b.logger.Warn("localtasks/river: paused a queue, but this process's workers had not heard of it after "+pauseTimeout.String()+"; they will at River's next poll",
			"queue", p.Queue)
	}
	return nil
}

// pauseAcks wakes the Pauses waiting for this process's workers to hear
// that a queue is paused (River's EventKindQueuePaused), by queue.
type pauseAcks struct {
	mu      sync.Mutex
	m       map[string][]chan struct{}
	stopped bool
}

func newPauseAcks() *pauseAcks { return &pauseAcks{m: map[string][]chan struct{}{}} }

// add registers a waiter for queue's pause, whose channel is closed when
// the workers have heard of it or stop. Call the func when done.
func (a *pauseAcks) add(queue string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		close(ch)
		return ch, func() {}
	}
	a.m[queue] = append(a.m[queue], ch)
	return ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if i := slices.Index(a.m[queue], ch); i >= 0 {
			a.m[queue] = slices.Delete(a.m[queue], i, i+1)
		}
	}
}

// wake wakes the waiters for queue's pause.
func (a *pauseAcks) wake(queue string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ch := range a.m[queue] {
		close(ch)
	}
	delete(a.m, queue)
}

// stop wakes every waiter, and every later one at once: the workers are
// gone, and hear of nothing more.
func (a *pauseAcks) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	for _, chs := range a.m {
		for _, ch := range chs {
			close(ch)
		}
	}
	a.m = map[string][]chan struct{}{}
}

// Resume resumes p's queue, as River's QueueResume does, in every process
// on b's schema: its jobs start again, in the order they would have.
// Resuming a queue that is not paused changes nothing. A task is an error
// matching errors.ErrUnsupported, as for Pause.
func (b *Backend) Resume(ctx context.Context, p localtasks.Pause) error {
	if err := b.checkPause(p, "resume"); err != nil {
		return err
	}
	err := b.client.QueueResume(ctx, p.Queue, nil)
	if err != nil && !errors.Is(err, rivertype.ErrNotFound) { // no row: not paused
		return fmt.Errorf("localtasks/river: resume %v: %w", p, err)
	}
	return nil
}

// Pauses lists b's queues that are paused, by name, as the database has
// them now: paused from any process. It reads river_queue; if that fails it
// logs the error and returns nil.
func (b *Backend) Pauses() []localtasks.Pause {
	ctx, cancel := context.WithTimeout(context.Background(), pauseTimeout)
	defer cancel()
	rows, err := b.pool.Query(ctx, "SELECT name FROM "+b.queueTable()+" WHERE paused_at IS NOT NULL AND name = ANY($1) ORDER BY name", b.cfg.Queues)
	var names []string
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		b.logger.Warn("localtasks/river: cannot read which queues are paused", "error", err)
		return nil
	}
	var ps []localtasks.Pause
	for _, n := range names {
		ps = append(ps, localtasks.Pause{Queue: n})
	}
	return ps
}

// checkPause reports what is wrong with p on b, for op ("pause" or
// "resume").
func (b *Backend) checkPause(p localtasks.Pause, op string) error {
	switch {
	case (p.Queue == "") == (p.Task == ""):
		return fmt.Errorf("localtasks/river: %s %+v: give a queue or a task, not both or neither: %w", op, p, localtasks.ErrInvalidTask)
	case p.Task != "":
		if _, ok := localtasks.Lookup(p.Task); !ok {
			return fmt.Errorf("localtasks/river: %s %v: no task of that name is defined: check its name (Define's): %w", op, p, localtasks.ErrInvalidTask)
		}
		return fmt.Errorf("localtasks/river: %s %v: River pauses queues, not tasks: give the task a queue of its own (WithQueue, and Config.Queues) and %s that queue: %w",
			op, p, op, errors.ErrUnsupported)
	case !slices.Contains(b.cfg.Queues, p.Queue):
		return fmt.Errorf("localtasks/river: %s %v: it is not one of backend %q's queues %q: %w", op, p, b.cfg.Name, b.cfg.Queues, localtasks.ErrInvalidTask)
	case b.closed.Load():
		return fmt.Errorf("localtasks/river: %s %v: backend %q is closed: %w", op, p, b.cfg.Name, localtasks.ErrClosed)
	}
	return nil
}

// queueTable is River's table of queues, schema-qualified and quoted.
func (b *Backend) queueTable() string {
	if b.cfg.Schema == "" {
		return "river_queue"
	}
	return pgx.Identifier{b.cfg.Schema, "river_queue"}.Sanitize()
}
