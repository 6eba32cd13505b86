package river

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/localtasks/localtasks"
)

var _ localtasks.Watcher = (*Backend)(nil)

// Watch follows the run: it yields the run's state now, then a new one each
// time its status, attempt or progress changes, until it has yielded the
// final status or ctx ends; see localtasks.Watch for what it yields and how
// a slow reader coalesces.
//
// River notifies no one of a job's start or progress, so a watch learns of
// them in three ways: at once, from this process's workers; from the
// finishes that reach Wait, at once from any process (LISTEN/NOTIFY); and,
// for the start and progress of a run that another process runs, by
// reading the job every Config.WatchPollInterval (one second by default),
// on the system clock as Wait's rereads are. Each watch costs one query a
// change here and one a poll.
func (b *Backend) Watch(ctx context.Context, id string) iter.Seq2[localtasks.TaskResult, error] {
	return func(yield func(localtasks.TaskResult, error) bool) {
		jid, err := parseID(id)
		if err != nil {
			yield(localtasks.TaskResult{}, err)
			return
		}
		// Register first, then read: a change in between wakes the watch.
		finished, unwait := b.wait.add(jid)
		defer unwait()
		changed, unwatch := b.watch.add(jid)
		defer unwatch()
		poll := time.NewTicker(b.cfg.WatchPollInterval)
		defer poll.Stop()

		var last localtasks.TaskResult
		final := b.recent.get(jid) // from this process's workers: no need to read it
		for first := true; ; first = false {
			row := final
			final = nil
			if row == nil || !statusOf(row.State).Finished() {
				row, err = b.job(ctx, id)
				if err != nil {
					yield(localtasks.TaskResult{}, err)
					return
				}
			}
			res := b.result(row)
			if first || moved(last, res) {
				if !yield(res, nil) || res.Status.Finished() {
					return
				}
				last = res
			}
			select {
			case final = <-finished:
			case <-changed:
			case <-poll.C:
			case <-ctx.Done():
				yield(localtasks.TaskResult{}, fmt.Errorf("localtasks/river: watch run %s: %w", id, ctx.Err()))
				return
			}
		}
	}
}

// moved reports whether a watcher that saw a should see b: its status,
// attempt or progress moved.
func moved(a, b localtasks.TaskResult) bool {
	return a.Status != b.Status || a.Attempts != b.Attempts ||
		a.Progress.Done != b.Progress.Done || a.Progress.Total != b.Progress.Total ||
		a.Progress.Message != b.Progress.Message || !a.Progress.At.Equal(b.Progress.At)
}
