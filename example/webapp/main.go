// Command webapp is a web service that hands work to localtasks and serves
// the dashboard: slow fetches on a thread pool named "io", prime counts on
// a process pool named "cpu", and a task that always fails.
//
//	cd example/webapp && go run . -actions
//
// It prints "listening on http://HOST:PORT" once it accepts connections.
// Then:
//
//	POST /io?url=URL&steps=5&step_ms=200  enqueue a fetch: 202, {"id": ...}, Location /results/{id}
//	POST /cpu?below=10000000              enqueue a prime count
//	POST /fail?reason=TEXT                enqueue a task that fails with reason
//	GET  /results/{id}                    200 with the run's "status": while queued, scheduled
//	                                      or running, with its progress; SUCCESSFUL with the
//	                                      value; FAILED with the error; CANCELLED with the
//	                                      reason. 404 for an unknown ID
//	GET  /tasks/                          the dashboard (docs/api.md)
//	GET  /metrics                         the pools' metrics for Prometheus (docs/operations.md)
//
// Parameters go in the query string, a form body, or a JSON object with
// Content-Type application/json; a bad one is a 400 that says why.
//
// On SIGINT or SIGTERM it stops accepting requests, waits up to 30 seconds
// for the tasks it holds to finish, closes its pools, writes each pool's
// counts of succeeded, failed and cancelled runs to stderr, and exits 0.
// Tasks still unfinished then are cancelled, and it exits 1. (Ctrl-C in a
// terminal sends SIGINT to the whole process group, the process pool's
// workers too, which die at once: a prime count running then fails. Send
// SIGINT or SIGTERM to this process alone to drain the CPU work as well.)
//
// Flags:
//
//	-addr host:port  where to listen (default 127.0.0.1:8080; port 0 picks a free one)
//	-actions         let the dashboard cancel, retry, strike, restore, pause and resume
//
// With -actions, anyone who reaches /tasks/ can cancel runs: this example
// listens on loopback only, and has no users. A real service mounts the
// dashboard behind its own authentication, for example
//
//	mux.Handle("/tasks/", requireAdmin(http.StripPrefix("/tasks", dash)))
//
// where requireAdmin checks the session or the credentials and answers 401
// or 403 before the dashboard sees the request; and when it is served under
// a name, it lists that name in dashboard.Config.AllowedHosts, or the
// actions are refused (403 host_not_allowed: a guard against DNS
// rebinding). docs/operations.md has more.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// logger writes what the web app has to say besides its first line: server
// errors, and what the shutdown did.
var logger = log.New(os.Stderr, "webapp: ", log.LstdFlags)

// How long each stage of the shutdown may take.
const (
	shutdownTimeout = 10 * time.Second // for requests in flight to end
	drainTimeout    = 30 * time.Second // for the tasks held to finish
	closeTimeout    = 10 * time.Second // for the pools to stop, once drained
)

func main() {
	localtasks.Init() // first: in a process-pool worker, Init serves tasks and never returns

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the program at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage is printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// run serves the web app until ctx ends, then shuts down gracefully. It
// prints one line to stdout, "listening on http://HOST:PORT", once the
// listener is bound.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("webapp", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8080", "`host:port` to listen on; port 0 picks a free one")
	actions := flags.Bool("actions", false, "let the dashboard cancel, retry, strike, restore, pause and resume")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: webapp takes only flags", flags.Args())
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ioPool, cpuPool, dash, err := build(*actions)
	if err != nil {
		ln.Close()
		return err
	}
	metrics, stopMetrics, err := serveMetrics(ioPool, cpuPool)
	if err != nil {
		ln.Close()
		return errors.Join(err, closePools(ioPool, cpuPool))
	}

	// Shutdown waits for every request to end, and the dashboard's event
	// stream only ends when its client goes: end it when shutdown begins.
	stopping, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", newHandler(ioPool, cpuPool, endOnShutdown(dash, stopping)))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	srv.RegisterOnShutdown(stopStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // Serve closes ln
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served: // Serve failed: shut down all the same
	}
	err = shutdown(srv, ioPool, cpuPool)
	return errors.Join(serveErr, err, stopMetrics())
}

// build makes the pools and the dashboard that shows them.
func build(actions bool) (*localtasks.ThreadPoolBackend, *localtasks.ProcessPoolBackend, *dashboard.Handler, error) {
	// The pools are named: the dashboard labels them by name.
	ioPool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Name: "io"},
		MaxWorkers: 8, // a fetch waits: it costs a goroutine, not a core
	})
	if err != nil {
		return nil, nil, nil, err
	}
	cpuPool, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{
		Config: localtasks.Config{Name: "cpu"},
		Nice:   10, // one worker process a core, below the request handlers
	})
	if err != nil {
		closePools(ioPool)
		return nil, nil, nil, err
	}
	dash, err := dashboard.New(dashboard.Config{
		Backends: []localtasks.Backend{ioPool, cpuPool},
		Actions:  actions,
	})
	if err != nil {
		closePools(ioPool, cpuPool)
		return nil, nil, nil, err
	}
	return ioPool, cpuPool, dash, nil
}

// shutdown stops srv taking requests, lets the pools finish what they hold,
// and closes them. It is an error if tasks had to be cancelled.
func shutdown(srv *http.Server, pools ...localtasks.Controller) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the HTTP server: %w", err))
	}

	ctx, cancel = context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for _, p := range pools {
		if n := unfinished(p); n > 0 {
			logger.Printf("draining pool %s: %d unfinished", p.Name(), n)
		}
		if err := p.Drain(ctx); err != nil {
			errs = append(errs, fmt.Errorf("draining: %w: its unfinished tasks are cancelled", err))
		}
	}
	errs = append(errs, closePools(pools...))
	for _, p := range pools {
		c := p.Counters()
		logger.Printf("stopped pool %s: succeeded %d, failed %d, cancelled %d", p.Name(), c.Succeeded, c.Failed, c.Cancelled)
	}
	return errors.Join(errs...)
}

// unfinished counts p's queued, scheduled and running runs: the snapshot's
// counts, kept as runs change, whatever page of runs it lists.
func unfinished(p localtasks.Controller) int {
	snap, err := p.Snapshot(context.Background(), localtasks.SnapshotOptions{Limit: 1})
	if err != nil {
		return 0 // not for these options
	}
	return snap.Counts.Ready + snap.Counts.Scheduled + snap.Counts.Running
}

// closePools closes pools, giving the tasks still running closeTimeout to
// finish.
func closePools(pools ...localtasks.Controller) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	for _, p := range pools {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing pool %q: %w", p.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// endOnShutdown gives h's requests a ctx that also ends once stopping does.
func endOnShutdown(h http.Handler, stopping context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(stopping, cancel)()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
