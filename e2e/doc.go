// Package e2e holds the end-to-end tests of localtasks: they build the
// example web app (example/webapp), run it, and drive its dashboard in a
// real headless Chromium over the DevTools protocol, with chromedp.
//
// It is a module of its own, so that chromedp stays out of the library's
// go.mod. Run it from this directory:
//
//	go test -race -count=1 ./...
//
// The tests need Chromium: on Debian, apt-get install chromium. Without it
// they fail; they never skip. LOCALTASKS_SCREENSHOT names the file the
// dashboard's screenshot is saved to.
//
// The River tests need PostgreSQL at LOCALTASKS_PG_URL (see
// adapters/river/scripts/postgres.sh). Among them,
// TestTraceAcrossRiverProcesses runs no browser: it checks an OpenTelemetry
// trace from an Enqueue in this process to the attempts a River worker
// runs in another, this test binary run again.
package e2e
