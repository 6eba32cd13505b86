package river

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// statusOf maps River's job states onto localtasks statuses.
func statusOf(s rivertype.JobState) localtasks.Status {
	switch s {
	case rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending:
		return localtasks.StatusScheduled
	case rivertype.JobStateAvailable:
		return localtasks.StatusReady
	case rivertype.JobStateRunning:
		return localtasks.StatusRunning
	case rivertype.JobStateCompleted:
		return localtasks.StatusSuccessful
	case rivertype.JobStateDiscarded:
		return localtasks.StatusFailed
	case rivertype.JobStateCancelled:
		return localtasks.StatusCancelled
	}
	return 0
}

// result makes a run's snapshot from its job. A task this process has not
// defined has its argument and value as json.RawMessage.
func (b *Backend) result(row *rivertype.JobRow) localtasks.TaskResult {
	meta := readMeta(row)
	out := readOutput(row)
	res := localtasks.TaskResult{
		ID:         formatID(row.ID),
		Task:       row.Kind,
		Backend:    b.cfg.Name,
		Queue:      row.Queue,
		Priority:   meta.Priority,
		Status:     statusOf(row.State),
		EnqueuedAt: row.CreatedAt.UTC(),
		Attempts:   row.Attempt + meta.snoozes,
		WorkerIDs:  slices.Clone(row.AttemptedBy),
		StartedAt:  out.StartedAt,
	}
	if row.ScheduledAt.After(row.CreatedAt) {
		res.RunAfter = row.ScheduledAt.UTC()
	}
	if row.AttemptedAt != nil && row.Attempt > 0 {
		res.LastAttemptedAt = row.AttemptedAt.UTC()
		if res.StartedAt.IsZero() {
			res.StartedAt = res.LastAttemptedAt
		}
	}
	if row.FinalizedAt != nil {
		res.FinishedAt = row.FinalizedAt.UTC()
	}
	var ja jobArgs
	_ = json.Unmarshal(row.EncodedArgs, &ja)
	res.Key = ja.Key
	def, known := localtasks.Lookup(row.Kind)
	res.Args = json.RawMessage(ja.Args)
	if known {
		if v, err := decode(def.ArgsType(), ja.Args); err == nil {
			res.Args = v
		}
	}
	if res.Status == localtasks.StatusSuccessful {
		res.Value = json.RawMessage(out.Value)
		if known {
			if v, err := decode(def.ResultType(), out.Value); err == nil {
				res.Value = v
			}
		}
	}
	res.Errors = attemptErrors(row, out)
	if res.Status == localtasks.StatusCancelled {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(row.Metadata, &m)
		var reason string
		_ = json.Unmarshal(m[cancelReasonKey], &reason)
		if reason == "" {
			reason = "cancelled through River"
		}
		res.CancelReason = reason
	}
	if p := out.Progress; p != nil {
		res.Progress = localtasks.Progress{Done: p.Done, Total: p.Total, Message: p.Message, At: p.At}
	}
	return res
}

// attemptErrors merges River's errors, one per failed attempt, with what
// the workers recorded of them.
func attemptErrors(row *rivertype.JobRow, out output) []localtasks.TaskError {
	var errs []localtasks.TaskError
	for _, e := range row.Errors {
		if row.State == rivertype.JobStateCancelled && e.Attempt == row.Attempt && strings.HasPrefix(e.Error, "JobCancelError") {
			continue // the cancellation itself, not a failure
		}
		i := slices.IndexFunc(out.Errors, func(a attemptError) bool { return a.Attempt == e.Attempt })
		if i < 0 {
			errs = append(errs, backendkit.NewTaskError(localtasks.TaskError{Attempt: e.Attempt, At: e.At.UTC(), Type: "river", Message: e.Error, Stack: e.Trace}, nil))
			continue
		}
		a := out.Errors[i]
		cause := backendkit.RebuildErrors(a.Matches)
		if a.Timeout > 0 {
			cause = backendkit.NewTimeoutError(a.Timeout, cause)
		}
		errs = append(errs, backendkit.NewTaskError(localtasks.TaskError{Attempt: a.Attempt, At: a.At, Type: a.Type, Message: a.Message, Stack: a.Stack}, cause))
	}
	return errs
}

// promoter makes deferred runs this process knows of READY when their
// time comes by Config.Clock, rather than at the next pass of River's
// scheduler, up to five seconds later: one timer, for the earliest.
type promoter struct {
	b      *Backend
	mu     sync.Mutex
	h      dueHeap
	at     time.Time // of the armed timer
	timer  localtasks.Timer
	closed bool
}

type due struct {
	id int64
	at time.Time
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newPromoter(b *Backend) *promoter { return &promoter{b: b} }

func (p *promoter) add(id int64, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	heap.Push(&p.h, due{id: id, at: at})
	p.arm()
}

func (p *promoter) remove(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.IndexFunc(p.h, func(d due) bool { return d.id == id }); i >= 0 {
		heap.Remove(&p.h, i)
		p.arm()
	}
}

func (p *promoter) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.h = nil
	p.arm()
}

// arm points the timer at the earliest due run. Must hold p.mu.
func (p *promoter) arm() {
	if len(p.h) > 0 && p.timer != nil && p.at.Equal(p.h[0].at) {
		return
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if len(p.h) == 0 {
		return
	}
	p.at = p.h[0].at
	p.timer = p.b.clock.AfterFunc(p.at.Sub(p.b.clock.Now()), p.fire)
}

// fire makes the runs whose time has come available.
func (p *promoter) fire() {
	now := p.b.clock.Now()
	p.mu.Lock()
	p.timer = nil
	var ids []int64
	for len(p.h) > 0 && !p.h[0].at.After(now) {
		ids = append(ids, heap.Pop(&p.h).(due).id)
	}
	p.arm()
	p.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// River's scheduler does the same for every due job, every five seconds.
	_, err := p.b.pool.Exec(ctx, "UPDATE "+p.b.table+" SET state = 'available' WHERE id = ANY($1) AND state IN ('scheduled', 'retryable') AND scheduled_at <= $2",
		ids, now)
	if err != nil {
		p.b.logger.Warn("localtasks/river: cannot make due runs ready; River's scheduler will", "error", err)
	}
}

// waiters wakes the Waits of this process when runs finish, here or in
// another process, through LISTEN/NOTIFY on one channel.
type waiters struct {
	mu sync.Mutex
	m  map[int64][]chan struct{}
}

// notifyChannel is the channel finishes are announced on; the payload is
// the schema and the job ID.
const notifyChannel = "localtasks_finished"

func newWaiters() *waiters { return &waiters{m: map[int64][]chan struct{}{}} }

func (w *waiters) add(id int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.m[id] = slices.DeleteFunc(w.m[id], func(c chan struct{}) bool { return c == ch })
		if len(w.m[id]) == 0 {
			delete(w.m, id)
		}
	}
}

func (w *waiters) wake(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// finished wakes this process's waiters for id, and tells the others.
func (w *waiters) finished(ctx context.Context, b *Backend, id int64) {
	w.wake(id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := b.pool.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, b.cfg.Schema+":"+formatID(id)); err != nil {
		b.logger.Warn("localtasks/river: cannot announce a finished run; its waiters elsewhere will see it later", "error", err)
	}
}

// listen wakes waiters on the announcements of other processes until ctx
// ends, reconnecting after errors.
func (w *waiters) listen(ctx context.Context, b *Backend) {
	for ctx.Err() == nil {
		err := w.listenOnce(ctx, b.pool, b.cfg.Schema)
		if ctx.Err() != nil {
			return
		}
		b.logger.Warn("localtasks/river: listening for finished runs failed; retrying", "error", err)
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (w *waiters) listenOnce(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	defer func() {
		// Return the connection clean, or drop it.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	prefix := schema + ":"
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		rest, ok := strings.CutPrefix(n.Payload, prefix)
		if !ok {
			continue
		}
		var id int64
		if _, err := fmt.Sscan(rest, &id); err == nil {
			w.wake(id)
		}
	}
}
