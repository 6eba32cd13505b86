package river

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/riverqueue/river" // upstream River; river.X is never this package
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
)

// A listing reads the jobs of a Snapshot's page a group at a time, in the
// order of the pools' listing (see localtasks.SnapshotOptions): SCHEDULED
// (River's scheduled, retryable and pending jobs), READY (available) a
// queue and a River priority level at a time, RUNNING, then the finished,
// newest first. Each group is one of River's JobList queries, ordered by a
// time and the job ID, which River's cursor continues.
type listGroup struct {
	status   localtasks.Status // the list it fills; StatusSuccessful for the finished
	states   []rivertype.JobState
	queue    string // READY: the queue
	priority int16  // READY: River's priority level
	order    river.JobListOrderByField
	dir      river.SortOrder
}

// listGroups lists the groups of b's listings, in their order.
func (b *Backend) listGroups() []listGroup {
	gs := []listGroup{{status: localtasks.StatusScheduled, order: river.JobListOrderByScheduledAt,
		states: []rivertype.JobState{rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending}}}
	for _, q := range b.cfg.Queues {
		for p := int16(1); p <= 4; p++ {
			gs = append(gs, listGroup{status: localtasks.StatusReady, queue: q, priority: p, order: river.JobListOrderByScheduledAt,
				states: []rivertype.JobState{rivertype.JobStateAvailable}})
		}
	}
	return append(gs,
		// River's "time" of a running job is its attempted_at: the earliest started first.
		listGroup{status: localtasks.StatusRunning, order: river.JobListOrderByTime, states: []rivertype.JobState{rivertype.JobStateRunning}},
		listGroup{status: localtasks.StatusSuccessful, order: river.JobListOrderByFinalizedAt, dir: river.SortOrderDesc,
			states: []rivertype.JobState{rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled}})
}

// Snapshot lists a page of the runs on b's queues, in every process, and
// describes b now: see localtasks.SnapshotOptions for the options, the
// order and what a listing guarantees while runs change. It reads the
// database, River's tables in b's schema:
//
//   - Counts counts the jobs of b's Queues by status, whatever opts say, in
//     one grouped COUNT query, which reads every job River keeps on those
//     queues, finished ones too, until its cleaner deletes them: measured
//     by BenchmarkSnapshot on a loaded 2-core machine, a page cost about
//     3 ms among 2,000 jobs and 170 to 230 ms among 200,000, nearly all of
//     it the count;
//   - the page is one JobList query of River's for each group of jobs it
//     reads (SCHEDULED; READY, one for each queue and River priority
//     level; RUNNING; finished), skipping those Counts says are empty, and
//     stopping once opts.Limit runs are listed, each query bounded by what
//     is left of the limit. The READY groups read River's fetching index
//     in order, so that a page of a long backlog reads what it lists; the
//     SCHEDULED and finished groups sort the jobs of their states that the
//     options match.
//
// Where River differs from the pools: Queued lists READY runs a queue at a
// time (in the order of Config.Queues), each in the order River starts
// them, by priority level and then by when they became ready, not by
// their places in a store. Finished lists every finished job River still
// keeps (its cleaner deletes completed jobs after a day, cancelled and
// discarded ones after a week, by default), not just the
// localtasks.SnapshotFinishedMax most recent. River runs carry no tags and
// no metadata: a Tag or Metadata option lists no run. A Queue not among
// Config.Queues lists no run. NextCursor is opaque, and continues a group
// where the last page ended by the job that ended it, as River's own
// cursors do: a run that moves to a later group meanwhile is listed there,
// one that moves to an earlier group (a retry) may be missed.
//
// Workers lists this process's River client when it has workers
// (Config.Workers above zero): one WorkerInfo, whose ID is the client's ID,
// as in TaskResult.WorkerIDs, with the runs its workers run now and the
// attempts they have finished; other processes' workers are not listed.
// Queues lists Config.Queues, each with its MaxWorkers (Config.Workers, a
// process's bound), and its runs READY, SCHEDULED and running now in every
// process, from the same grouped COUNT as Counts. Counters are
// this process's: see Counters. Closed says Close was called on b; a
// closed backend still lists the database's runs. LastWorkerRestart is
// zero: River's client does not restart workers.
//
// Its errors are options that are not valid (matching
// localtasks.ErrInvalidSnapshotOptions), and the database's.
func (b *Backend) Snapshot(ctx context.Context, opts localtasks.SnapshotOptions) (localtasks.Snapshot, error) {
	l, err := b.newListing(opts)
	if err != nil {
		return localtasks.Snapshot{}, err
	}
	snap := localtasks.Snapshot{Backend: b.cfg.Name, At: b.clock.Now().UTC(), Closed: b.closed.Load()}
	counts, err := b.countJobs(ctx)
	if err != nil {
		return localtasks.Snapshot{}, fmt.Errorf("localtasks/river: snapshot: counting the jobs: %w", err)
	}
	snap.Counts = counts.total
	if err := b.list(ctx, l, counts, &snap); err != nil {
		return localtasks.Snapshot{}, fmt.Errorf("localtasks/river: snapshot: listing the jobs: %w", err)
	}
	snap.Counters = b.Counters()
	if b.cfg.Workers > 0 {
		started, running := b.local.attempts()
		snap.Workers = []localtasks.WorkerInfo{{ID: b.client.ID(), Running: b.local.runningIDs(), TasksDone: int(started) - running}}
	}
	for _, q := range b.cfg.Queues {
		c := counts.queues[q]
		snap.Queues = append(snap.Queues, localtasks.QueueInfo{Name: q, MaxWorkers: b.cfg.Workers, Ready: c.Ready, Scheduled: c.Scheduled, Running: c.Running})
	}
	// Strikes and pauses are other files' (strike.go, pause.go): shown
	// here as soon as b has them.
	if s, ok := any(b).(localtasks.Striker); ok {
		snap.Strikes = s.Strikes()
	}
	if p, ok := any(b).(localtasks.Pauser); ok {
		snap.Pauses = p.Pauses()
		for i := range snap.Queues {
			snap.Queues[i].Paused = slices.Contains(snap.Pauses, localtasks.Pause{Queue: snap.Queues[i].Name})
		}
	}
	return snap, nil
}

// listing is a SnapshotOptions checked, with the place its cursor names.
type listing struct {
	opts   localtasks.SnapshotOptions
	states map[rivertype.JobState]bool // wanted
	queues []string                    // to list; none lists nothing
	limit  int
	group  int // in listGroups
	after  *river.JobListCursor
}

func (b *Backend) newListing(opts localtasks.SnapshotOptions) (*listing, error) {
	bad := func(format string, args ...any) (*listing, error) {
		return nil, fmt.Errorf("localtasks/river: snapshot: %s: %w", fmt.Sprintf(format, args...), localtasks.ErrInvalidSnapshotOptions)
	}
	if opts.Limit < 0 || opts.Limit > localtasks.SnapshotLimitMax {
		return bad("Limit %d is out of range: give 1 to %d, or 0 for the default of %d", opts.Limit, localtasks.SnapshotLimitMax, localtasks.SnapshotLimitDefault)
	}
	l := &listing{opts: opts, states: map[rivertype.JobState]bool{}, limit: cmp.Or(opts.Limit, localtasks.SnapshotLimitDefault)}
	for _, st := range opts.Statuses {
		if st < localtasks.StatusScheduled || st > localtasks.StatusCancelled {
			return bad("%v in Statuses is not a status: use the Status constants", st)
		}
	}
	for _, s := range allStates {
		l.states[s] = len(opts.Statuses) == 0 || slices.Contains(opts.Statuses, statusOf(s))
	}
	switch {
	case opts.Queue == "":
		l.queues = b.cfg.Queues
	case slices.Contains(b.cfg.Queues, opts.Queue):
		l.queues = []string{opts.Queue}
	}
	if opts.Cursor != "" {
		if err := l.parseCursor(opts.Cursor, len(b.listGroups())); err != nil {
			return bad("cursor %q is not one a Snapshot made (%v): pass a page's NextCursor as it is, or \"\" to start over", opts.Cursor, err)
		}
	}
	return l, nil
}

var allStates = []rivertype.JobState{
	rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending, rivertype.JobStateAvailable,
	rivertype.JobStateRunning, rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled,
}

// A cursor is "r1.<group>.<River's cursor>", base64-encoded: the group to
// go on with, in listGroups, and River's text of the cursor of the job the
// page before ended with.
const cursorVersion = "r1"

func (l *listing) cursor(group int, after *river.JobListCursor) (string, error) {
	text, err := after.MarshalText()
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s.%d.%s", cursorVersion, group, text)), nil
}

func (l *listing) parseCursor(c string, groups int) error {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return err
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[0] != cursorVersion {
		return fmt.Errorf("unknown form")
	}
	g, err := strconv.Atoi(parts[1])
	if err != nil || g < 0 || g >= groups {
		return fmt.Errorf("bad group %q", parts[1])
	}
	var after river.JobListCursor
	if err := after.UnmarshalText([]byte(parts[2])); err != nil {
		return err
	}
	l.group, l.after = g, &after
	return nil
}

// list fills snap's lists with a page of l, and its NextCursor.
func (b *Backend) list(ctx context.Context, l *listing, counts *jobCounts, snap *localtasks.Snapshot) error {
	if len(l.queues) == 0 || l.opts.Tag != "" || len(l.opts.Metadata) > 0 {
		return nil // no job is on such a queue, or has tags or metadata
	}
	listed := 0
	groups := b.listGroups()
	for g := l.group; g < len(groups); g++ {
		gr := groups[g]
		queues := l.queues
		if gr.queue != "" {
			if !slices.Contains(l.queues, gr.queue) {
				continue
			}
			queues = []string{gr.queue}
		}
		var states []rivertype.JobState
		for _, s := range gr.states {
			if l.states[s] && counts.any(s, gr.priority, queues) {
				states = append(states, s)
			}
		}
		if len(states) == 0 {
			continue
		}
		params := river.NewJobListParams().States(states...).OrderBy(gr.order, gr.dir).First(l.limit - listed)
		if gr.queue != "" {
			// Equalities, not River's ANY filters, so that its fetching
			// index, on (state, queue, priority, scheduled_at, id), reads
			// the page in order rather than every READY job.
			params = params.Where("state = 'available' AND queue = @localtasks_queue AND priority = @localtasks_priority",
				river.NamedArgs{"localtasks_queue": gr.queue, "localtasks_priority": gr.priority})
		} else {
			params = params.Queues(queues...)
		}
		if l.opts.Task != "" {
			params = params.Kinds(l.opts.Task)
		}
		if l.opts.Key != "" {
			params = params.Where("args @> jsonb_build_object('key', @localtasks_key::text)", river.NamedArgs{"localtasks_key": l.opts.Key})
		}
		if g == l.group && l.after != nil {
			params = params.After(l.after)
		}
		res, err := b.client.JobList(ctx, params)
		if err != nil {
			return err
		}
		for _, row := range res.Jobs {
			r := b.resultOf(row, false) // a run's logs are for its own read
			switch gr.status {
			case localtasks.StatusScheduled:
				snap.Scheduled = append(snap.Scheduled, r)
			case localtasks.StatusReady:
				snap.Queued = append(snap.Queued, r)
			case localtasks.StatusRunning:
				snap.Running = append(snap.Running, r)
			default:
				snap.Finished = append(snap.Finished, r)
			}
		}
		listed += len(res.Jobs)
		if listed == l.limit {
			c, err := l.cursor(g, res.LastCursor)
			if err != nil {
				return err
			}
			snap.NextCursor = c
			return nil
		}
	}
	return nil
}

// jobCounts counts the jobs of a backend's queues by state and priority,
// and by localtasks status in all and on each queue.
type jobCounts struct {
	n      map[jobCountKey]int
	total  localtasks.StatusCounts
	queues map[string]localtasks.StatusCounts
}

type jobCountKey struct {
	state    rivertype.JobState
	queue    string
	priority int16
}

// countJobs counts the jobs of b's queues, in one query that River's
// fetching index, on (state, queue, priority, scheduled_at, id), answers.
func (b *Backend) countJobs(ctx context.Context) (*jobCounts, error) {
	rows, err := b.pool.Query(ctx, "SELECT state::text, queue, priority, count(*) FROM "+b.table+
		" WHERE queue = ANY($1) GROUP BY state, queue, priority", b.cfg.Queues)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := &jobCounts{n: map[jobCountKey]int{}, queues: map[string]localtasks.StatusCounts{}}
	for rows.Next() {
		var k jobCountKey
		var state string
		var n int
		if err := rows.Scan(&state, &k.queue, &k.priority, &n); err != nil {
			return nil, err
		}
		k.state = rivertype.JobState(state)
		c.n[k] += n
		st := statusOf(k.state)
		addCount(&c.total, st, n)
		q := c.queues[k.queue]
		addCount(&q, st, n)
		c.queues[k.queue] = q
	}
	return c, rows.Err()
}

// addCount adds n runs of status st to c.
func addCount(c *localtasks.StatusCounts, st localtasks.Status, n int) {
	switch st {
	case localtasks.StatusScheduled:
		c.Scheduled += n
	case localtasks.StatusReady:
		c.Ready += n
	case localtasks.StatusRunning:
		c.Running += n
	case localtasks.StatusSuccessful:
		c.Successful += n
	case localtasks.StatusFailed:
		c.Failed += n
	case localtasks.StatusCancelled:
		c.Cancelled += n
	}
}

// any reports whether a job of state, of priority if not 0, is on one of
// queues. The counts are those of the query's moment: a job that comes
// after is listed or not, as the pools' listing may.
func (c *jobCounts) any(state rivertype.JobState, priority int16, queues []string) bool {
	for k, n := range c.n {
		if n > 0 && k.state == state && (priority == 0 || k.priority == priority) && slices.Contains(queues, k.queue) {
			return true
		}
	}
	return false
}
