package e2e

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/dashboard"
)

// TestDashboardRiverPausesAQueue serves a dashboard, with actions on, of a
// River backend with the queues "default" and "side" on a real PostgreSQL,
// and checks in Chromium that the queues panel pauses "side" through
// River's queue pause (Capabilities.PauseQueues): a run enqueued on it
// stays READY while a run of "default", enqueued after it, finishes; that
// the run's detail offers no task pause, which River refuses; and that
// once the panel resumes "side", the run finishes.
func TestDashboardRiverPausesAQueue(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	b := newRiverBackend(t, ctx, "e2e_river_pause", ltriver.Config{Name: "river", Queues: []string{"default", "side"}, Workers: 2})
	srv := serveDashboard(t, dashboard.Config{Backends: []localtasks.Backend{b}, Actions: true, Title: "river queues"})

	bctx := newBrowser(t, chromium)
	console := watchConsole(t, bctx)
	do(t, bctx, "open the dashboard",
		chromedp.Navigate(srv.URL+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#queues")),
	)
	// Both queues, active, each with River's bound of Workers.
	queues := poll[map[string]queueRow](t, bctx, "the queues panel to list both queues", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return Object.keys(rows).length === 2 && rows;
	}`)
	require.Equal(t, map[string]queueRow{
		"default": {Backend: "river", Ready: "0", Running: "0", MaxWorkers: "2", State: "active", Button: "Pause"},
		"side":    {Backend: "river", Ready: "0", Running: "0", MaxWorkers: "2", State: "active", Button: "Pause"},
	}, queues)

	do(t, bctx, "click Pause on side", chromedp.Click(chromedp.CSS(`#queues tr[data-queue="side"] button.pause`)))
	poll[bool](t, bctx, "side to show paused, and in the paused list", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return rows.side?.state === 'paused' && rows.side?.button === 'Resume' &&
			!!document.querySelector('#pauses li[data-queue="side"] button.resume');
	}`)
	require.Equal(t, []localtasks.Pause{{Queue: "side"}}, b.Pauses())

	// A run of side waits; one of default, enqueued after it, runs.
	held, err := riverSquare.Using(localtasks.WithQueue("side")).Enqueue(ctx, b, 3)
	require.NoError(t, err)
	passed, err := riverSquare.Enqueue(ctx, b, 4)
	require.NoError(t, err)
	_, err = passed.Wait(ctx)
	require.NoError(t, err)
	st, err := held.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st, "the run of the paused queue waits")
	waitStatuses(t, bctx, map[string]string{held.ID(): "READY", passed.ID(): "SUCCESSFUL"})

	// Its detail has its actions, but no task pause: River pauses queues.
	openDetail(t, bctx, held.ID(), "READY")
	require.Equal(t, []bool{false, true}, evaluate[[]bool](t, bctx,
		`[document.querySelector('#detail-cancel').hidden, document.querySelector('#detail-pause').hidden]`))

	do(t, bctx, "click Resume on side", chromedp.Click(chromedp.CSS(`#queues tr[data-queue="side"] button.resume`)))
	v, err := held.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 9, v)
	poll[bool](t, bctx, "side to show active, and nothing paused", dumpQueues, `() => {
		const rows = `+readQueues+`;
		return rows.side?.state === 'active' && !document.querySelector('#pauses li');
	}`)
	require.Empty(t, b.Pauses())
	waitStatuses(t, bctx, map[string]string{held.ID(): "SUCCESSFUL"})

	console.check(t)
}
