package river

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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

// result makes a run's snapshot from its job, its logs and all. A task
// this process has not defined has its argument and value as
// json.RawMessage.
func (b *Backend) result(row *rivertype.JobRow) localtasks.TaskResult {
	return b.resultOf(row, true)
}

// resultOf is result; withLogs false leaves TaskResult.Logs and
// LogsDropped out, for the rows of a listing.
func (b *Backend) resultOf(row *rivertype.JobRow, withLogs bool) localtasks.TaskResult {
	md := readMetadata(row)
	meta, out := md.M, md.Output
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
		res.CancelReason = cmp.Or(md.CancelReason, "cancelled through River")
		if md.Struck {
			unstrikeAttempt(&res)
		}
	}
	if p := out.Progress; p != nil {
		res.Progress = localtasks.Progress{Done: p.Done, Total: p.Total, Message: p.Message, At: p.At}
	}
	if withLogs {
		res.Logs, res.LogsDropped = readLogs(md.Log)
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

// promoter makes deferred runs READY when their time comes by
// Config.Clock, and wakes River's workers for them, rather than leaving
// them to the next pass of River's scheduler (up to five seconds later)
// and to the workers' next poll (up to FetchPollInterval later): one
// timer, for the earliest. It keeps the runs this process deferred or
// retried, and, in a process with workers, those that other processes
// announced on its queues (see due.go).
type promoter struct {
	b      *Backend
	mu     sync.Mutex
	h      dueHeap
	at     time.Time // of the armed timer
	timer  localtasks.Timer
	closed bool
	full   bool          // it refused a run since it was last half empty: logged once
	grace  time.Duration // how long after the due time it promotes the runs other processes deferred
}

// maxDue bounds the runs a promoter keeps; beyond it, runs are left to
// River's scheduler.
const maxDue = 100_000

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

func newPromoter(b *Backend) *promoter {
	return &promoter{b: b, grace: dueGrace + rand.N(dueGrace)}
}

func (p *promoter) add(id int64, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if len(p.h) >= maxDue {
		if !p.full {
			p.full = true
			p.b.logger.Warn("localtasks/river: too many deferred runs to keep; River's scheduler will make the others ready, up to five seconds late", "kept", maxDue)
		}
		return
	}
	p.full = p.full && len(p.h) >= maxDue/2
	heap.Push(&p.h, due{id: id, at: at})
	p.arm()
}

// remove forgets the run of job id, however many times it was added.
func (p *promoter) remove(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	removed := false
	for {
		i := slices.IndexFunc(p.h, func(d due) bool { return d.id == id })
		if i < 0 {
			break
		}
		heap.Remove(&p.h, i)
		removed = true
	}
	if removed {
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

// fire makes the runs whose time has come available and wakes the
// workers of their queues.
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
	if err := p.b.promote(ctx, ids); err != nil {
		p.b.logger.Warn("localtasks/river: cannot make due runs ready; River's scheduler will", "error", err)
	}
}

// waiters wakes the Waits and Watches of this process when runs finish,
// here or in another process (through a notifier's LISTEN/NOTIFY).
type waiters struct {
	mu sync.Mutex
	m  map[int64][]chan *rivertype.JobRow
}

func newWaiters() *waiters { return &waiters{m: map[int64][]chan *rivertype.JobRow{}} }

// add registers a waiter for the run of job id. Its channel yields the
// job's final row when this process finished the run, or nil for "read
// it again". Call the func when done.
func (w *waiters) add(id int64) (<-chan *rivertype.JobRow, func()) {
	ch := make(chan *rivertype.JobRow, 1)
	w.mu.Lock()
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.m[id] = slices.DeleteFunc(w.m[id], func(c chan *rivertype.JobRow) bool { return c == ch })
		if len(w.m[id]) == 0 {
			delete(w.m, id)
		}
	}
}

// wake wakes the waiters of job id, with its final row if not nil; a row
// takes the place of a nil still unread.
func (w *waiters) wake(id int64, row *rivertype.JobRow) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[id] {
		select {
		case ch <- row:
		default:
			if row != nil {
				select {
				case <-ch:
				default:
				}
				select {
				case ch <- row:
				default:
				}
			}
		}
	}
}

// finished wakes this process's waiters for id, with its final row if
// not nil, and tells the other processes' through b.notify.
func (b *Backend) finished(id int64, row *rivertype.JobRow) {
	if row != nil {
		b.recent.add(row)
	}
	b.wait.wake(id, row)
	b.notify.add(id)
}

// notifyChannel is the channel finishes are announced on; each payload is
// the schema, the announcing backend's nonce, and job IDs, comma-separated:
// "schema:nonce:1,2,3".
const notifyChannel = "localtasks_finished"

// notifyDelay is how long a notifier gathers finished runs before it
// announces them in one NOTIFY; notifyMax bounds a payload, below
// PostgreSQL's 8000 bytes.
const (
	notifyDelay = 2 * time.Millisecond
	notifyMax   = 7000
)

// notifier announces finished runs, and deferred runs' times (see
// due.go), to the other processes, a batch at a time: its run goroutine
// sends what gathered within notifyDelay of the first, in one query, and
// listen wakes this process's waiters, and arms its promoter, on the
// other processes' announcements.
type notifier struct {
	b      *Backend
	nonce  string // this backend's, so that listen skips its own
	kick   chan struct{}
	mu     sync.Mutex
	ids    []int64
	dues   map[string][]due // deferred runs by queue
	closed bool             // after close, add sends at once
}

func newNotifier(b *Backend) *notifier {
	return &notifier{b: b, nonce: strconv.FormatUint(rand.Uint64(), 36), kick: make(chan struct{}, 1)}
}

// add queues the announcement that the run of job id finished.
func (n *notifier) add(id int64) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.send([]int64{id}, nil)
		return
	}
	n.ids = append(n.ids, id)
	n.mu.Unlock()
	n.wake()
}

// addDue queues the announcement that the run of job id, on queue, is
// due at.
func (n *notifier) addDue(queue string, id int64, at time.Time) {
	d := due{id: id, at: at}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.send(nil, map[string][]due{queue: {d}})
		return
	}
	if n.dues == nil {
		n.dues = map[string][]due{}
	}
	n.dues[queue] = append(n.dues[queue], d)
	n.mu.Unlock()
	n.wake()
}

// wake tells run there is something to send.
func (n *notifier) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// run sends the queued announcements until ctx ends.
func (n *notifier) run(ctx context.Context) {
	t := time.NewTimer(notifyDelay)
	t.Stop()
	for {
		select {
		case <-n.kick:
		case <-ctx.Done():
			return
		}
		t.Reset(notifyDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		n.flush()
	}
}

// close sends what is queued, and makes add send at once from then on.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.flush()
}

func (n *notifier) flush() {
	n.mu.Lock()
	ids, dues := n.ids, n.dues
	n.ids, n.dues = nil, nil
	n.mu.Unlock()
	if len(ids) > 0 || len(dues) > 0 {
		n.send(ids, dues)
	}
}

// send announces finished runs (ids) and deferred runs (dues) in one
// query, of as many notifications as their payloads' size needs.
func (n *notifier) send(ids []int64, dues map[string][]due) {
	var channels, payloads []string
	add := func(channel, prefix string, items int, item func(buf []byte, i int) []byte) {
		buf := []byte(prefix)
		for i := range items {
			if len(buf) > notifyMax {
				channels, payloads = append(channels, channel), append(payloads, string(buf[:len(buf)-1]))
				buf = append(buf[:0], prefix...)
			}
			buf = append(item(buf, i), ',')
		}
		channels, payloads = append(channels, channel), append(payloads, string(buf[:len(buf)-1]))
	}
	prefix := n.b.cfg.Schema + ":" + n.nonce + ":"
	if len(ids) > 0 {
		add(notifyChannel, prefix, len(ids), func(buf []byte, i int) []byte { return strconv.AppendInt(buf, ids[i], 10) })
	}
	for queue, ds := range dues {
		add(dueChannel, prefix+queue+":", len(ds), func(buf []byte, i int) []byte { return appendDue(buf, ds[i]) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.b.pool.Exec(ctx, "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)", channels, payloads); err != nil {
		n.b.logger.Warn("localtasks/river: cannot announce finished and deferred runs; their waiters and workers elsewhere will see them later",
			"finished", len(ids), "deferred queues", len(dues), "error", err)
	}
}

// listen wakes waiters on the announcements of other processes until ctx
// ends, reconnecting after errors.
func (n *notifier) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := n.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		n.b.logger.Warn("localtasks/river: listening for finished runs failed; retrying", "error", err)
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (n *notifier) listenOnce(ctx context.Context) error {
	conn, err := n.b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// Return the connection clean, or drop it.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel+"; LISTEN "+strikeChannel); err != nil {
		return err
	}
	n.b.strikes.reload() // what changed while no one listened
	if n.b.cfg.Workers > 0 {
		if _, err := conn.Exec(ctx, "LISTEN "+dueChannel); err != nil {
			return err
		}
		// The runs deferred before this listener listened.
		if err := n.b.scanDue(ctx, conn); err != nil {
			return err
		}
	}
	prefix := n.b.cfg.Schema + ":"
	own := n.nonce + ":"
	for {
		note, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if note.Channel == strikeChannel {
			if note.Payload == n.b.cfg.Schema {
				n.b.strikes.reload()
			}
			continue
		}
		rest, ok := strings.CutPrefix(note.Payload, prefix)
		if !ok || strings.HasPrefix(rest, own) {
			continue // another schema's, or this backend's, whose waiters it woke itself
		}
		_, list, _ := strings.Cut(rest, ":")
		if note.Channel == dueChannel {
			n.b.heardDue(list)
			continue
		}
		for s := range strings.SplitSeq(list, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				n.b.wait.wake(id, nil)
			}
		}
	}
}

// recent keeps the final rows of the runs this process's workers finished
// last (Config.RecentFinished), for Wait and Watch. A row is what River's
// subscription delivered as the run finished: a later change to the job
// by hand (River's JobRetry of a finished job) is not seen by a Wait that
// finds it here, as it would not have been by a Wait that was waiting.
type recent struct {
	c *lru.Cache[int64, *rivertype.JobRow] // nil keeps none
}

func newRecent(n int) *recent {
	if n < 0 {
		return &recent{}
	}
	c, _ := lru.New[int64, *rivertype.JobRow](n) // n > 0: no error
	return &recent{c: c}
}

func (r *recent) add(row *rivertype.JobRow) {
	if r.c != nil {
		r.c.Add(row.ID, row)
	}
}

// get returns the final row of job id, or nil if r does not hold it.
func (r *recent) get(id int64) *rivertype.JobRow {
	if r.c == nil {
		return nil
	}
	row, _ := r.c.Get(id)
	return row
}
