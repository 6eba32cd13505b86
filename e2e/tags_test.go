package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// TestDashboardTags serves a dashboard of a thread pool that ran four
// reports, two of them tagged for a tenant and one of those with
// metadata, and checks in Chromium that a tagged run shows its tags as
// chips in the runs table and its tags and metadata in its detail; that
// the tag filter narrows the table to the tenant's runs and keeps the tag
// in the page's URL; that a link with ?tag= opens the page so filtered;
// that a click on a chip filters by its tag; and that the metadata filter
// (key=value) narrows the table too.
func TestDashboardTags(t *testing.T) {
	chromium := findChromium(t)
	base, runs := serveTagged(t)

	ctx := newBrowser(t, chromium)
	console := watchConsole(t, ctx)
	do(t, ctx, "open the dashboard",
		chromedp.Navigate(base+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)
	all := []string{runs.plain2, runs.gold, runs.plain1, runs.acme} // the latest finish first
	waitTable(t, ctx, "every run", all)

	chips := func(id string) []string {
		t.Helper()
		return evaluate[[]string](t, ctx, `Array.from(document.querySelectorAll('#tasks tr[data-id="`+id+`"] td.task a.chip'), (a) => a.textContent)`)
	}
	require.Equal(t, []string{"billing", "tenant-acme"}, chips(runs.acme))
	require.Equal(t, []string{"tenant-acme", "gold"}, chips(runs.gold))
	require.Empty(t, chips(runs.plain1), "a run without tags has no chips")

	// The tag filter narrows the list, and the URL keeps it.
	setInput(t, ctx, "#tag-filter", "tenant-acme")
	waitTable(t, ctx, "the runs tagged tenant-acme", []string{runs.gold, runs.acme})
	poll[bool](t, ctx, "the URL to hold the tag", `location.search`, `() => location.search === '?tag=tenant-acme'`)

	// A link to the tag's runs opens the page filtered.
	do(t, ctx, "open a ?tag= link",
		chromedp.Navigate(base+"/tasks/?tag=gold"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)
	waitTable(t, ctx, "the runs tagged gold, from the link", []string{runs.gold})
	require.Equal(t, "gold", evaluate[string](t, ctx, `document.querySelector('#tag-filter').value`))

	// A click on a chip filters by its tag, in place.
	do(t, ctx, "click the chip tenant-acme",
		chromedp.Click(chromedp.CSS(`#tasks tr[data-id="`+runs.gold+`"] a.chip[data-tag="tenant-acme"]`)))
	waitTable(t, ctx, "the runs tagged tenant-acme, from the chip", []string{runs.gold, runs.acme})
	require.Equal(t, "tenant-acme", evaluate[string](t, ctx, `document.querySelector('#tag-filter').value`))

	// The metadata filter, with the tag's.
	setInput(t, ctx, "#meta-filter", "tier=gold")
	waitTable(t, ctx, "the runs tagged tenant-acme with tier=gold", []string{runs.gold})
	setInput(t, ctx, "#meta-filter", "")
	setInput(t, ctx, "#tag-filter", "")
	waitTable(t, ctx, "every run, with no filter", all)
	poll[bool](t, ctx, "the URL to drop the filters", `location.search`, `() => location.search === ''`)

	// The detail shows the tags and the metadata.
	openDetail(t, ctx, runs.gold, "SUCCESSFUL")
	detail := evaluate[map[string]any](t, ctx, `(() => ({
		tags: Array.from(document.querySelectorAll('#detail-tags a.chip'), (a) => a.textContent),
		meta: Array.from(document.querySelectorAll('#detail-metadata dt'), (dt) => dt.textContent + '=' + dt.nextElementSibling.textContent),
	}))()`)
	require.Equal(t, []any{"tenant-acme", "gold"}, detail["tags"])
	require.Equal(t, []any{"request_id=req-9", "tier=gold"}, detail["meta"])

	console.check(t)
}

// taggedRuns are the IDs of the runs serveTagged made.
type taggedRuns struct{ acme, plain1, gold, plain2 string }

// serveTagged serves a dashboard, under /tasks/, of a thread pool that ran
// four reports one after the other: one tagged billing and tenant-acme,
// one untagged, one tagged tenant-acme and gold with metadata, one
// untagged.
func serveTagged(t *testing.T) (string, taggedRuns) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	run := func(opts ...localtasks.Option) string {
		h, err := reportTask.Using(opts...).Enqueue(ctx, pool, reportArgs{Shop: "acme"})
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
		return h.ID()
	}
	var r taggedRuns
	r.acme = run(localtasks.WithTags("billing", "tenant-acme"))
	r.plain1 = run()
	r.gold = run(localtasks.WithTags("tenant-acme", "gold"), localtasks.WithMetadata(map[string]string{"tier": "gold", "request_id": "req-9"}))
	r.plain2 = run()

	dash, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Title: "tags"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the page's event stream
	return srv.URL, r
}
