package river

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Deferred runs (run-after times, retry delays, snoozes) start on time in
// any process, not at River's pace: River's scheduler makes due jobs
// available every five seconds, and workers that no notification wakes
// find them at their next poll (FetchPollInterval, a second by default).
//
// So the process that defers a run (by Enqueue with a run-after time, or
// by its worker's failed or snoozed attempt) announces its ID and due time
// on dueChannel, batched with the finishes it announces (notifier); every
// process with workers on the run's queue keeps it in its promoter, as the
// deferring process does. At the due time the deferring process promotes
// it (promote): one conditional UPDATE, harmless when several run it or
// when the run has finished meanwhile, that also sends River's own insert
// notification for the run's queue, which wakes the workers of every
// process at once. The others promote it a little later (promoter.grace:
// dueGrace and a random part of it, so that they seldom do it at once),
// which changes nothing and wakes no one if a worker has taken the run by
// then: a second wake within River's FetchCooldown of the first would
// delay the workers' next fetch to the cooldown's end. A process with
// workers that starts listening reads the runs already deferred on its
// queues (scanDue, at most dueScanMax), so that the death of the one that
// deferred them leaves to River's scheduler only the runs no live process
// knew of.

// dueChannel is the channel deferred runs are announced on; each payload
// is the schema, the announcing backend's nonce, the queue, and the runs
// as "id@due" (due in Unix microseconds), comma-separated:
// "schema:nonce:queue:1@1700000000000000,2@1700000000500000". River's
// queue names have no ':'.
const dueChannel = "localtasks_due"

// dueGrace is the least time a process waits, after a run deferred by
// another is due, before it promotes the run itself; it waits up to twice
// that.
const dueGrace = 10 * time.Millisecond

// dueScanMax bounds the runs a listener reads when it starts listening,
// the earliest due first.
const dueScanMax = 1000

// deferred tells this process's promoter, and the other processes, that
// the run of job id, on queue, is due at: for runs that this process
// enqueued with a run-after time, and whose attempts its workers retried
// or snoozed.
func (b *Backend) deferred(queue string, id int64, at time.Time) {
	b.timers.add(id, at)
	b.notify.addDue(queue, id, at)
}

// works reports whether this process's workers work queue.
func (b *Backend) works(queue string) bool {
	return b.cfg.Workers > 0 && slices.Contains(b.cfg.Queues, queue)
}

func appendDue(buf []byte, d due) []byte {
	buf = strconv.AppendInt(buf, d.id, 10)
	buf = append(buf, '@')
	return strconv.AppendInt(buf, d.at.UnixMicro(), 10)
}

// heardDue arms the promoter for an announcement of deferred runs,
// "queue:id@due,...", if this process works their queue.
func (b *Backend) heardDue(list string) {
	queue, runs, _ := strings.Cut(list, ":")
	if !b.works(queue) {
		return
	}
	for s := range strings.SplitSeq(runs, ",") {
		id, at, _ := strings.Cut(s, "@")
		jid, err1 := strconv.ParseInt(id, 10, 64)
		us, err2 := strconv.ParseInt(at, 10, 64)
		if err1 == nil && err2 == nil {
			b.timers.add(jid, time.UnixMicro(us).Add(b.timers.grace))
		}
	}
}

// nowSQL is the time due runs are measured against: Config.Clock's ($2)
// if it has one, else the database's, as River's workers measure them.
const nowSQL = "coalesce($2::timestamptz, now())"

// clockParam is $2 of nowSQL.
func (b *Backend) clockParam() any {
	if b.cfg.Clock == nil {
		return nil
	}
	return b.clock.Now()
}

// scanDue arms the promoter for the deferred runs on this process's
// queues, at most dueScanMax of them, the earliest first: the scheduled
// and retryable ones, even overdue (whose enqueuing process died before
// it promoted them), and the available ones not yet due (short retries,
// which River makes available at once, and runs River's scheduler made
// available ahead of time). It leaves out the runs created from the time
// it reads (Config.Clock's, or the database's), which their process keeps
// and announces: with a fake clock that stands still, that is every run a
// test enqueues, whose timer a Cancel must stop for good.
func (b *Backend) scanDue(ctx context.Context, conn *pgxpool.Conn) error {
	rows, err := conn.Query(ctx, "SELECT id, scheduled_at FROM "+b.table+
		" WHERE queue = ANY($1) AND (state IN ('scheduled', 'retryable') OR state = 'available' AND scheduled_at > "+nowSQL+")"+
		" AND created_at < "+nowSQL+" ORDER BY scheduled_at LIMIT $3", b.cfg.Queues, b.clockParam(), dueScanMax)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		b.timers.add(id, at.Add(b.timers.grace))
	}
	return rows.Err()
}

// promoteSQL makes the due runs of ids ($1) available, wakes the workers
// of their queues with River's insert notification (its topic and
// payload: see River's PGNotifyMany and producer), those already
// available included, and returns, with 0 for the notifications, the
// runs not yet due by the database's clock and the microseconds until
// they are.
const promoteSQL = `WITH due AS (
	UPDATE %[1]s SET state = 'available'
	WHERE id = ANY($1) AND state IN ('scheduled', 'retryable') AND scheduled_at <= ` + nowSQL + `
	RETURNING queue
), cur AS (
	SELECT id, queue, state, scheduled_at FROM %[1]s WHERE id = ANY($1)
), wake AS (
	SELECT queue FROM due
	UNION
	SELECT queue FROM cur WHERE state = 'available' AND scheduled_at <= ` + nowSQL + `
)
SELECT 0::bigint, 0::bigint, pg_notify(concat(coalesce(nullif($3::text, ''), current_schema()), '.river_insert'), json_build_object('queue', queue)::text)::text FROM wake
UNION ALL
SELECT id, (extract(epoch FROM scheduled_at - ` + nowSQL + `) * 1000000)::bigint, '' FROM cur
WHERE state IN ('scheduled', 'retryable', 'available') AND scheduled_at > ` + nowSQL

// promote makes the runs of ids available if they are due and unfinished,
// and wakes the workers of their queues, in one query. It is harmless
// for a run another process promoted, or that has finished, been
// cancelled or deleted meanwhile. Runs not yet due by the database's
// clock (a host's clock ahead of it) go back to the promoter for the
// time the database says is left.
func (b *Backend) promote(ctx context.Context, ids []int64) error {
	rows, err := b.pool.Query(ctx, strings.ReplaceAll(promoteSQL, "%[1]s", b.table), ids, b.clockParam(), b.cfg.Schema)
	if err != nil {
		return err
	}
	defer rows.Close()
	now := b.clock.Now()
	for rows.Next() {
		var id, us int64
		var ignored string
		if err := rows.Scan(&id, &us, &ignored); err != nil {
			return err
		}
		if id != 0 {
			b.timers.add(id, now.Add(time.Duration(us)*time.Microsecond))
		}
	}
	return rows.Err()
}
