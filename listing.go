package localtasks

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/localtasks/localtasks/internal/osproc"
)

// A listing goes a trip at a time (see walk), and yields between trips: a
// mutex's woken waiter loses to a goroutine that locks again at once, for
// up to a millisecond. A trip reads at most listSlots places of the index
// without the lock, then under it checks them, copies at most listCopies
// runs (a copy is about a microsecond), skips at most listChunks chunks by
// their counts, and takes in the inbox (inboxMax runs at most). Measured,
// with a timer around each trip's hold, in W9 (200,000 queued, 1,000 runs a
// page, on a loaded 2-core machine): held 10 us at the median, 80-93 us at
// p99, 0.6-0.9 ms at p99.9 (with 256 copies a trip: 200-300 us at p99); the
// longest, 9-11 ms, are the system descheduling the listing meanwhile.
const (
	listSlots  = 256
	listCopies = 64
	listChunks = 256
)

// The groups of a listing, in its order: the unfinished statuses in the
// order runs move through them, so that a run that moves on while the
// listing reads is found in the group it moved to, then the recent
// finishes. (RUNNING first, as before, missed more than half of the runs
// that started while a listing read.)
var listGroups = [...]Status{StatusScheduled, StatusReady, StatusRunning}

const groupFinished = len(listGroups)

// query is a SnapshotOptions checked, with the place its cursor names.
type query struct {
	statuses         [StatusCancelled + 1]bool // wanted
	task, queue, key string
	tag              string
	meta             map[string]string
	queueIndex       int // queue's in Config.Queues, -1 if none: as a record holds it
	limit            int
	group            int    // in listGroups, or groupFinished
	shard            int    // unfinished groups: the next place, in shard...
	slot             uint32 // ...and slot
	below            uint64 // groupFinished: list the finishes numbered below it
	listed           int
	out              *Snapshot
	full             bool // listed limit runs: the cursor says where to go on
}

func newQuery(opts SnapshotOptions) (*query, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("localtasks: snapshot: %s: %w", fmt.Sprintf(format, args...), ErrInvalidSnapshotOptions)
	}
	q := &query{task: opts.Task, queue: opts.Queue, key: opts.Key, limit: cmp.Or(opts.Limit, SnapshotLimitDefault), below: math.MaxUint64}
	if opts.Tag != "" || len(opts.Metadata) > 0 {
		if err := q.tagFilter(opts); err != nil {
			return nil, bad("%v", err)
		}
	}
	if opts.Limit < 0 || opts.Limit > SnapshotLimitMax {
		return nil, bad("Limit %d is out of range: give 1 to %d, or 0 for the default of %d", opts.Limit, SnapshotLimitMax, SnapshotLimitDefault)
	}
	for _, st := range opts.Statuses {
		if st < StatusScheduled || st > StatusCancelled {
			return nil, bad("%v in Statuses is not a status: use the Status constants", st)
		}
		q.statuses[st] = true
	}
	if len(opts.Statuses) == 0 {
		for st := StatusScheduled; st <= StatusCancelled; st++ {
			q.statuses[st] = true
		}
	}
	if opts.Cursor != "" {
		if err := q.parseCursor(opts.Cursor); err != nil {
			return nil, bad("cursor %q is not one a Snapshot made (%v): pass a page's NextCursor as it is, or \"\" to start over", opts.Cursor, err)
		}
	}
	return q, nil
}

// A cursor is "1.<group>.<place>", base64-encoded: the place is the next
// slot, shard<<32|slot, in an unfinished group, and the number of the
// finish to list below in the finished group.
func (q *query) cursor() string {
	place := uint64(q.shard)<<32 | uint64(q.slot)
	if q.group == groupFinished {
		place = q.below
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "1.%d.%x", q.group, place))
}

func (q *query) parseCursor(c string) error {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return err
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 || parts[0] != "1" {
		return fmt.Errorf("unknown form")
	}
	g, err := strconv.Atoi(parts[1])
	if err != nil || g < 0 || g > groupFinished {
		return fmt.Errorf("bad group %q", parts[1])
	}
	place, err := strconv.ParseUint(parts[2], 16, 64)
	if err != nil {
		return err
	}
	q.group = g
	if g == groupFinished {
		q.below = place
		return nil
	}
	q.shard, q.slot = int(place>>32), uint32(place)
	if q.shard >= indexShards {
		return fmt.Errorf("bad shard %d", q.shard)
	}
	return nil
}

// pre reports whether rec's task and queue are those q lists, fields that
// never change: it needs no lock.
func (q *query) pre(rec *record) bool {
	return (q.task == "" || rec.def.Name() == q.task) && (q.queue == "" || int(rec.queue) == q.queueIndex)
}

// match reports whether rec is one q lists, but for its status. Must hold
// s.mu.
func (q *query) match(rec *record) bool {
	return q.pre(rec) && (q.key == "" || rec.x != nil && rec.x.key == q.key) && (q.tag == "" && q.meta == nil || q.tagged(rec))
}

// snapshotPage is holder.Snapshot.
func (s *state) snapshotPage(ctx context.Context, opts SnapshotOptions) (Snapshot, error) {
	q, err := newQuery(opts)
	if err != nil {
		return Snapshot{}, err
	}
	q.queueIndex = slices.Index(s.set.cfg.Queues, q.queue)
	s.mu.Lock()
	s.takeInbox()
	snap := Snapshot{Backend: s.name, At: s.clock.Now(), Counters: s.counters, Counts: s.view.counts(),
		LastWorkerRestart: s.lastWorkerRestart, Closed: s.closing}
	snap.Workers = s.workerInfo()
	snap.Queues, snap.Pauses = s.queueInfo(), s.listPauses()
	for _, r := range s.strikes {
		snap.Strikes = append(snap.Strikes, r.Strike)
	}
	s.mu.Unlock()

	q.out = &snap
	for ; q.group < groupFinished && !q.full; q.group, q.shard, q.slot = q.group+1, 0, 0 {
		st := listGroups[q.group]
		if !q.statuses[st] {
			continue
		}
		if q.task == "" && q.queue == "" && q.key == "" && q.tag == "" && q.meta == nil {
			// Every run of st matches: room for what the counts say there
			// is, so that a large page does not grow its list by copying
			// it over and over.
			room := make([]TaskResult, 0, min(q.limit-q.listed, snap.Counts.Of(st)))
			switch st {
			case StatusReady:
				snap.Queued = room
			case StatusScheduled:
				snap.Scheduled = room
			default:
				snap.Running = room
			}
		}
		if err := s.walk(ctx, st, q.shard, q.slot, q.pre, q.visit); err != nil {
			return Snapshot{}, err
		}
		if q.full {
			snap.NextCursor = q.cursor()
		}
	}
	if !q.full && q.group == groupFinished {
		s.listFinished(q)
		if q.full {
			snap.NextCursor = q.cursor()
		}
	}
	if err := s.workersRunning(ctx, snap.Workers); err != nil {
		return Snapshot{}, err
	}

	slices.SortFunc(snap.Queued, func(a, b TaskResult) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.EnqueuedAt.Compare(b.EnqueuedAt))
	})
	slices.SortFunc(snap.Scheduled, func(a, b TaskResult) int { return a.RunAfter.Compare(b.RunAfter) })
	slices.SortFunc(snap.Running, func(a, b TaskResult) int { return a.LastAttemptedAt.Compare(b.LastAttemptedAt) })
	for i := range snap.Workers {
		if pid := snap.Workers[i].PID; pid > 0 {
			snap.Workers[i].MemoryBytes = osproc.ResidentMemory(pid)
		}
	}
	return snap, nil
}

// visit lists rec, of the status walked, if it matches (pre said its task
// and queue do), and returns false
// once the page is full, with the cursor on the place after rec's. Must
// hold s.mu.
func (q *query) visit(s *state, rec *record, shard int, slot uint32) bool {
	if q.key != "" && (rec.x == nil || rec.x.key != q.key) {
		return true
	}
	if (q.tag != "" || q.meta != nil) && !q.tagged(rec) {
		return true
	}
	res := s.snapshot(rec)
	switch rec.status {
	case StatusReady:
		q.out.Queued = append(q.out.Queued, res)
	case StatusScheduled:
		q.out.Scheduled = append(q.out.Scheduled, res)
	default:
		q.out.Running = append(q.out.Running, res)
	}
	if q.listed++; q.listed == q.limit {
		q.full = true
		q.shard, q.slot = shard, slot+1
		return false
	}
	return true
}

// place is a run read from the index without the lock, where it was, and
// whether what of it never changes (its task and queue) matches.
type place struct {
	rec   *record
	shard int
	slot  uint32
	match bool
	warm  uintptr // see walk
}

// walk calls visit, under s.mu, with every run of status st (SCHEDULED,
// READY or RUNNING) that pre accepts, in the order of the index from the
// place (shard, slot) on, until visit returns false. It reads only the
// chunks whose counts hold a run of st, and in each only up to the last of
// them.
//
// A trip reads up to listSlots places of a chunk without the lock, as
// lookups do, and calls pre with each run there: pre may read what never
// changes after a run is put in the index (its ID, task, queue, argument,
// enqueue time). Then, under the lock, it visits those of status st, and
// finds the next chunk to read by the counts. The reads without the lock
// take the cache misses, one or more a run, so that the lock is held for
// what is in the cache already: a few microseconds a trip, and the copies.
func (s *state) walk(ctx context.Context, st Status, shard int, slot uint32, pre func(*record) bool,
	visit func(s *state, rec *record, shard int, slot uint32) bool) error {
	var (
		places []place
		ch     *chunk // the chunk to read next
		at     = -1   // its number in shard
		left   = -1   // its runs of st not seen yet, by its count; -1 for READY (see below)
	)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("localtasks: snapshot of %s: %w", s.set.label(), err)
		}
		s.mu.Lock()
		s.takeInbox()
		for _, p := range places {
			if p.rec.status != st {
				continue
			}
			if left > 0 {
				left--
			}
			if p.match && !visit(s, p.rec, p.shard, p.slot) {
				s.mu.Unlock()
				return nil
			}
		}
		places = places[:0]
		if left == 0 { // every run of st the chunk holds was seen
			slot = uint32(at+1) << chunkBits
		}
		ch = nil
		for skipped := 0; shard < indexShards && skipped < listChunks; {
			c := int(slot >> chunkBits)
			cs := s.index.shards[shard].chunks.Load()
			if cs == nil || c >= len(*cs) {
				shard, slot, at = shard+1, 0, -1
				continue
			}
			tallies := s.view.chunks[shard]
			if c >= len(tallies) || tallies[c][st-1] == 0 {
				slot, at = uint32(c+1)<<chunkBits, -1
				skipped++
				continue
			}
			if c != at {
				// Once the chunk's count of runs of st are seen, the rest
				// of it holds none. Not so for READY: post makes runs READY
				// without the lock, and they are counted once taken in.
				at, left = c, int(tallies[c][st-1])
				if st == StatusReady {
					left = -1
				}
			}
			ch = (*cs)[c]
			break
		}
		s.mu.Unlock()
		if shard >= indexShards {
			return nil
		}
		if ch != nil {
			matches := 0
			for i := int(slot & (1<<chunkBits - 1)); i < len(ch) && len(places) < listSlots && matches < listCopies; i++ {
				slot++
				rec := ch[i].Load()
				if rec == nil {
					continue
				}
				// warm reads the run's fields that never change around its
				// status, whose cache lines the check under the lock needs.
				p := place{rec: rec, shard: shard, slot: slot - 1, match: pre(rec),
					warm: uintptr(rec.queue) + uintptr(rec.timeout) + uintptr(rec.enqueuedAt)}
				places = append(places, p)
				if p.match {
					matches++
				}
			}
		}
		runtime.Gosched()
	}
}

// listFinished lists the most recent finishes that q matches, newest first,
// below q.below. It goes a trip at a time under s.mu, as walk does: at
// most listSlots finishes of the ring (which holds SnapshotFinishedMax),
// and listCopies copies, then it yields. A finish's number never changes, so a trip
// goes on where the one before stopped, however many runs finished
// meanwhile. Must not hold s.mu.
func (s *state) listFinished(q *query) {
	for {
		s.mu.Lock()
		v := &s.view
		oldest := v.finishes - min(v.finishes, SnapshotFinishedMax)
		k := min(q.below, v.finishes)
		for trip, copies := 0, 0; k > oldest && trip < listSlots && copies < listCopies; k, trip = k-1, trip+1 {
			rec := v.recent[(k-1)%SnapshotFinishedMax]
			// Evicted since it finished? Then the store holds it no more.
			if !q.statuses[rec.status] || s.index.at(rec.slot) != rec || !q.match(rec) {
				continue
			}
			q.out.Finished = append(q.out.Finished, s.snapshot(rec))
			copies++
			if q.listed++; q.listed == q.limit {
				q.full, q.below = true, k-1
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		if k <= oldest {
			return
		}
		q.below = k
		runtime.Gosched()
	}
}

// workersRunning fills in the runs that each of ws runs: every RUNNING
// run, whatever the page lists.
func (s *state) workersRunning(ctx context.Context, ws []WorkerInfo) error {
	if len(ws) == 0 {
		return nil
	}
	index := make(map[string]int, len(ws))
	for i, w := range ws {
		index[w.ID] = i
	}
	return s.walk(ctx, StatusRunning, 0, 0, func(*record) bool { return true }, func(s *state, rec *record, _ int, _ uint32) bool {
		if i, ok := index[rec.lastWorker()]; ok {
			ws[i].Running = append(ws[i].Running, rec.id)
		}
		return true
	})
}
