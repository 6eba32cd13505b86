package river

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

var _ localtasks.Drainer = (*Backend)(nil)

// DrainRecheck is how often Drain counts the unfinished jobs when nothing
// in this process has finished meanwhile: the most it lags a finish in
// another process, or a job River itself finished.
const DrainRecheck = time.Second

// drainGather is how long Drain lets a burst of this process's finishes
// gather before it counts again, so that a thousand finishes a second cost
// it at most a count every drainGather, not one a finish.
const drainGather = 5 * time.Millisecond

// Drain blocks until no job of b's Queues is available, scheduled,
// retryable or running, in any process, or until ctx ends; jobs of River's
// pending state (which nothing of localtasks makes) do not hold it. A
// backend with workers waits only for the kinds of its Config.Tasks, the
// ones it could run; one without (a producer) waits for every kind.
//
// It looks for those jobs with one query, which reads River's fetching
// index and stops at the 1,001st job, when it starts, when this
// process's workers or Cancel finish a run (a burst of them gathered for
// drainGather, 5 ms), and every DrainRecheck otherwise: it never polls
// faster. Once the count is zero it also waits, for at most DrainRecheck,
// until River has told this process of the outcome of every attempt its
// workers ran, so that Counters count them when Drain returns.
//
// Enqueues from other goroutines or processes may keep it waiting; a run
// deferred by an hour keeps it waiting an hour. Its errors are ctx's,
// with how many runs were unfinished, and the database's.
func (b *Backend) Drain(ctx context.Context) error {
	kinds := b.drainKinds()
	var zeroSince time.Time
	for {
		woken := b.stats.finishes.wait() // before counting, so that no finish is missed
		n, err := b.unfinishedJobs(ctx, kinds)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("localtasks/river: drain: %w", ctx.Err())
			}
			return fmt.Errorf("localtasks/river: drain: counting the unfinished jobs: %w", err)
		}
		wait := DrainRecheck
		if n == 0 {
			if zeroSince.IsZero() {
				zeroSince = time.Now()
			}
			// River drops events for a subscriber that falls behind: a run
			// whose outcome never comes holds Drain DrainRecheck at most.
			left := DrainRecheck - time.Since(zeroSince)
			if b.local.unreportedRuns() == 0 || left <= 0 {
				return nil
			}
			wait = left
		} else {
			zeroSince = time.Time{}
		}
		t := time.NewTimer(wait)
		select {
		case <-woken:
			t.Reset(drainGather)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			return fmt.Errorf("localtasks/river: drain: %s unfinished when it last counted: %w", unfinishedText(n), ctx.Err())
		}
	}
}

// drainKinds lists the kinds Drain waits for: nil for every kind.
func (b *Backend) drainKinds() []string {
	if b.cfg.Workers == 0 {
		return nil
	}
	kinds := make([]string, 0, len(b.cfg.Tasks))
	for _, name := range b.cfg.Tasks {
		// New left out the tasks JSON cannot carry: no worker here runs them.
		if def, ok := localtasks.Lookup(name); ok && checkTypes(def) == nil {
			kinds = append(kinds, name)
		}
	}
	return kinds
}

// drainCountMax bounds Drain's count: it needs to know whether a job is
// left, and how many only for its error.
const drainCountMax = 1000

// unfinishedJobs counts the jobs of b's queues, of kinds (nil for all),
// that Drain waits for, up to drainCountMax + 1.
func (b *Backend) unfinishedJobs(ctx context.Context, kinds []string) (int, error) {
	var n int
	err := b.pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+b.table+
		" WHERE state IN ('available', 'scheduled', 'retryable', 'running') AND queue = ANY($1) AND ($2::text[] IS NULL OR kind = ANY($2)) LIMIT $3) AS j",
		b.cfg.Queues, kinds, drainCountMax+1).Scan(&n)
	return n, err
}

// unfinishedText says how many jobs n, unfinishedJobs' count, is.
func unfinishedText(n int) string {
	if n > drainCountMax {
		return fmt.Sprintf("more than %d runs were", drainCountMax)
	}
	return fmt.Sprintf("%d runs were", n)
}
