package main

// The settle: once the faults stop, the chaos waits for both pools to
// finish, and tells a slow pool from a stuck one. A CI run under heavy load
// once failed a fixed 20 s wait with 100 READY runs, 40 s old, none
// running, and nothing to say whether the workers were busy being replaced
// or the runs were lost: they were being replaced (see monitor.go).

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

// settle waits for both pools to finish every run once the faults have
// stopped. A pool may be slow: its workers replaced after each toxic run,
// each start taking what the machine gives a worker of the lowest priority.
// It is stuck if it makes no progress (no attempt starts, no run finishes)
// for longer than stallLimit, and reported so, with what its workers were
// doing; one that still progresses is waited for until cfg.GiveUp.
func (c *chaos) settle(ctx context.Context, problem func(string, ...any)) {
	for i := range c.pools {
		c.settlePool(ctx, i, c.stallLimit(i), problem)
	}
}

// settlePool waits for pool i to finish every run, or to make no progress
// for longer than stall, or for cfg.GiveUp, and reports the last two.
func (c *chaos) settlePool(ctx context.Context, i int, stall time.Duration, problem func(string, ...any)) {
	p := c.pools[i]
	var seen localtasks.Counters
	progressAt := time.Now()
	for {
		dctx, cancel := context.WithTimeout(ctx, settlePoll)
		err := p.Drain(dctx)
		cancel()
		if err == nil {
			return
		}
		snap, err := p.Snapshot(ctx, localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}, Limit: 1})
		if err != nil {
			problem("the %s's snapshot failed: %v", c.names[i], err)
			return
		}
		if progressed(seen, snap.Counters) {
			seen, progressAt = snap.Counters, snap.At
		}
		// The parent's goroutines, the settle's among them, may run late
		// on a busy machine: as late as the watch saw them, and a poll.
		limit := stall + settlePoll
		if c.watch != nil {
			limit += c.watch.Stats().Late
		}
		quiet := snap.At.Sub(progressAt)
		switch {
		case quiet > limit:
			c.stuck(i, fmt.Sprintf("no attempt started and no run finished for %v, longer than an attempt of its runs and a "+
				"worker's start may take (%v): a run is lost, or a worker takes no work", quiet.Round(time.Millisecond), limit.Round(time.Millisecond)), problem)
			return
		case !c.cfg.GiveUp.IsZero() && snap.At.After(c.cfg.GiveUp):
			c.stuck(i, fmt.Sprintf("still at work when the chaos had to give up, the last progress %v before: too slow, not stuck",
				quiet.Round(time.Millisecond)), problem)
			return
		}
	}
}

// settlePoll is how often settle looks for a pool's progress.
const settlePoll = 250 * time.Millisecond

// progressed reports whether a pool's counters moved from was to now: an
// attempt started, or a run finished.
func progressed(was, now localtasks.Counters) bool {
	return now.Started != was.Started || now.Succeeded+now.Failed+now.Cancelled != was.Succeeded+was.Failed+was.Cancelled
}

// stallLimit is the longest pool i may go without progress while it has
// runs (settlePool adds how late it may look): the longest an attempt of a run
// it has not finished may take (its timeout, then the grace before its
// worker is killed; a good run's work, or its wait for a retry), then the
// start of the worker that replaces the one killed, which the process pool
// bounds by its StartTimeout. Past that, a worker serves and takes
// nothing, or a READY run is missing from the ready queue.
func (c *chaos) stallLimit(i int) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	longest := c.cfg.Work // a good run's: it has no timeout
	if i == 0 {
		return longest + goodRetryMaxDelay
	}
	for _, r := range c.runs {
		if r.kind != kindToxic {
			continue
		}
		timeout := toxicTimeout
		if r.toxic == toxicAlloc {
			timeout = toxicAllocTimeout
		}
		if timeout <= longest {
			continue
		}
		if res, err := c.pools[1].GetResult(context.Background(), r.id); err != nil || !res.Status.Finished() {
			longest = timeout
		}
	}
	return max(longest, goodRetryMaxDelay) + procGrace + localtasks.ProcessPoolStartTimeoutDefault
}

// stuck reports pool i, which did not finish: why, what its workers are
// doing, and its unfinished runs.
func (c *chaos) stuck(i int, why string, problem func(string, ...any)) {
	snap, err := c.pools[i].Snapshot(context.Background(), localtasks.SnapshotOptions{Statuses: []localtasks.Status{
		localtasks.StatusReady, localtasks.StatusScheduled, localtasks.StatusRunning}})
	if err != nil {
		problem("the %s did not finish: %s; its snapshot failed: %v", c.names[i], why, err)
		return
	}
	replaced := fmt.Sprintf("%d workers replaced", snap.Counters.WorkerRestarts)
	if !snap.LastWorkerRestart.IsZero() {
		replaced += fmt.Sprintf(" (the last %v ago)", snap.At.Sub(snap.LastWorkerRestart).Round(time.Millisecond))
	}
	problem("the %s did not finish: %s; %d ready, %d scheduled, %d running; %d attempts started, %s; workers: %s",
		c.names[i], why, snap.Counts.Ready, snap.Counts.Scheduled, snap.Counts.Running, snap.Counters.Started,
		replaced, c.describeWorkers(snap.Workers))
	if i == 1 && c.watch != nil {
		problem("the process pool's workers so far: %v", c.watch.Stats())
	}
	for _, res := range slices.Concat(snap.Running, snap.Queued, snap.Scheduled) { // what runs first: the report shows 20 problems
		problem("unfinished: %s %s %v run after %v (now %v), %d attempts on %v, errors %v",
			res.ID, res.Task, res.Status, res.RunAfter.Format(time.StampMicro), snap.At.Format(time.StampMicro),
			res.Attempts, res.WorkerIDs, res.Errors)
	}
}

// backlog says what the pools had left to do when the faults stopped.
func (c *chaos) backlog() string {
	var parts []string
	for i, p := range c.pools {
		snap, err := p.Snapshot(context.Background(), localtasks.SnapshotOptions{Statuses: []localtasks.Status{
			localtasks.StatusReady, localtasks.StatusScheduled, localtasks.StatusRunning}, Limit: localtasks.SnapshotLimitMax})
		if err != nil {
			return err.Error()
		}
		tasks := make(map[string]int)
		for _, res := range slices.Concat(snap.Queued, snap.Scheduled, snap.Running) {
			tasks[res.Task]++
		}
		var byTask []string
		for _, t := range slices.Sorted(maps.Keys(tasks)) {
			byTask = append(byTask, fmt.Sprintf("%d %s", tasks[t], t))
		}
		n := snap.Counts.Ready + snap.Counts.Scheduled + snap.Counts.Running
		if n == 0 {
			parts = append(parts, fmt.Sprintf("the %s none", c.names[i]))
			continue
		}
		parts = append(parts, fmt.Sprintf("the %s %d runs (%s)", c.names[i], n, strings.Join(byTask, ", ")))
	}
	return strings.Join(parts, "; ")
}
