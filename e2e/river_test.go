package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/dashboard"
)

// pgURLEnv names the variable that holds the URL of the PostgreSQL the
// River test runs on, as in the River adapter's tests.
const pgURLEnv = "LOCALTASKS_PG_URL"

// The River test's tasks: JSON carries their arguments and results.
var (
	riverSquare = localtasks.Define("e2e.river.square", func(ctx context.Context, n int) (int, error) { return n * n, nil })
	riverRefuse = localtasks.Define("e2e.river.refuse", func(ctx context.Context, reason string) (int, error) { return 0, errors.New(reason) },
		localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 1}))
)

// TestDashboardRiver serves a dashboard of a River backend on a real
// PostgreSQL, with a run that succeeded, one that failed, one deferred by
// an hour and one cancelled, and checks in Chromium that the table lists
// each with its status, that the counts under it are the database's, and
// that the failed run's detail shows its error.
func TestDashboardRiver(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	b := newRiverBackend(t, ctx, "e2e_river", ltriver.Config{Name: "river", Workers: 2})

	ok, err := riverSquare.Enqueue(ctx, b, 7)
	require.NoError(t, err)
	failed, err := riverRefuse.Enqueue(ctx, b, failReason)
	require.NoError(t, err)
	later, err := riverSquare.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, 8)
	require.NoError(t, err)
	cancelled, err := riverSquare.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, 9)
	require.NoError(t, err)
	require.NoError(t, cancelled.Cancel(ctx))
	v, err := ok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 49, v)
	_, err = failed.Wait(ctx)
	require.ErrorContains(t, err, failReason)

	srv := serveDashboard(t, dashboard.Config{Backends: []localtasks.Backend{b}, Title: "river"})

	bctx := newBrowser(t, chromium)
	console := watchConsole(t, bctx)
	do(t, bctx, "open the dashboard",
		chromedp.Navigate(srv.URL+"/tasks/"),
		chromedp.WaitVisible(chromedp.CSS("#tasks")),
	)
	waitStatuses(t, bctx, map[string]string{ok.ID(): "SUCCESSFUL", failed.ID(): "FAILED", later.ID(): "SCHEDULED", cancelled.ID(): "CANCELLED"})
	rows := evaluate[map[string]row](t, bctx, readRows)
	require.Len(t, rows, 4, "the four runs, and no others")
	require.Equal(t, riverSquare.Name(), rows[ok.ID()].Task)
	require.Equal(t, riverRefuse.Name(), rows[failed.ID()].Task)
	poll[bool](t, bctx, "#tasks-more-text to count the database's runs", dumpTable, `() =>
		(document.querySelector('#tasks-more-text')?.textContent ?? '').includes('river: 0 ready, 1 scheduled, 0 running, 3 finished kept')`)

	openDetail(t, bctx, failed.ID(), "FAILED")
	poll[bool](t, bctx, "the failed run's detail to show its error", dumpDetail, `(reason) =>
		document.querySelector('#detail').textContent.includes(reason)`, failReason)

	console.check(t)
}

// newRiverBackend returns a River backend with cfg on a schema of its own,
// named after prefix, on the PostgreSQL of LOCALTASKS_PG_URL, closed and
// dropped after the test; it fails the test, saying how to start a server,
// if the variable is unset. cfg's Schema, FetchPollInterval and Logger are
// set here.
func newRiverBackend(t *testing.T, ctx context.Context, prefix string, cfg ltriver.Config) *ltriver.Backend {
	t.Helper()
	url := os.Getenv(pgURLEnv)
	if url == "" {
		t.Fatalf("%s is not set: the River dashboard tests need PostgreSQL. Install it (apt-get install postgresql), then, from the repository's root,\n"+
			"\teval \"$(adapters/river/scripts/postgres.sh start)\"\nand run the tests again; adapters/river/scripts/postgres.sh stop \"$LOCALTASKS_PG_DIR\" stops it.", pgURLEnv)
	}
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err, "connecting to %s", url)
	t.Cleanup(pool.Close)
	cfg.Schema = riverSchema(prefix)
	require.NoError(t, ltriver.Migrate(ctx, pool, cfg.Schema))
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{cfg.Schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	cfg.FetchPollInterval = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := ltriver.New(ctx, pool, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return b
}

// riverSchema is the schema newRiverBackend makes for prefix.
func riverSchema(prefix string) string { return fmt.Sprintf("%s_%d", prefix, os.Getpid()) }

// serveDashboard serves a dashboard of cfg under /tasks/ until the test
// ends, after the browser's cleanup (which ends the page's event stream).
func serveDashboard(t *testing.T, cfg dashboard.Config) *httptest.Server {
	t.Helper()
	dash, err := dashboard.New(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/tasks/", http.StripPrefix("/tasks", dash))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
