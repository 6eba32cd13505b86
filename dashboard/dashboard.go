// Package dashboard serves a web page and a JSON API that show the runs,
// workers, counters and throughput of localtasks backends, live.
//
// New returns an http.Handler to mount anywhere in an application:
//
//	h, err := dashboard.New(dashboard.Config{
//		Backends: []localtasks.Backend{io, cpu},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/tasks/", http.StripPrefix("/tasks", h))
//
// The page lists the queued, scheduled, running and finished runs, a page
// at a time, each with its short ID and its argument, with filters by
// status, task and key, a search by ID (whole, or its first 8 or more hex
// digits), and a detail view per run that a #task=<ID> link opens; it updates
// through server-sent events, and needs nothing but the handler: its
// scripts and styles are embedded, and it loads nothing from elsewhere.
//
// The page also shows each backend's queues (the runs running on each, its
// bound on workers, whether it is paused) and what is paused.
//
// A run's detail view lists its logs: the records it wrote through
// localtasks.Logger(ctx) and, on a process pool, the lines it printed, by
// attempt, as the backend's Config.RunLogs keeps them, loaded again while
// the run runs. Only GET api/results/{id} carries them (Task.Logs); the
// listings and events carry their count alone (Task.LogCount), so that
// they stay small. A record is the task's text: the page shows it as text.
//
// The dashboard is read-only unless Config.Actions is set. With it, the
// page and the API can cancel and retry runs, add and lift strikes, and
// pause and resume queues and tasks, through POST requests that take JSON
// and are refused when they come from another site
// (net/http.CrossOriginProtection) or for a host name that is not a
// loopback name, an IP address or in Config.AllowedHosts (DNS rebinding). The dashboard does no authentication of its own: mount it
// behind the application's.
//
// GET api/health answers each backend's health as JSON (closed or not,
// workers alive, queue depth, the last worker restart), with 200 when
// every backend is healthy and 503 otherwise, for load balancers and
// Kubernetes probes; serve it ahead of the authentication, as
// ExampleHandler_health shows. It is read-only whatever Config.Actions
// says.
//
// docs/api.md in the module describes the routes, the JSON shapes and the
// error codes, the contract the localtasks CLI and the page are built on.
package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

// TitleDefault is the page title unless Config.Title says otherwise.
const TitleDefault = "localtasks"

// Config configures a dashboard.
type Config struct {
	// Backends are the backends to show, in this order. At least one is
	// required. Each is labelled by its Name, or "backend-N" for an
	// unnamed one, N being its position in Backends from 1; two backends
	// with one label are an error. The page shows what each offers of
	// the optional interfaces: its runs, workers and counters need a
	// localtasks.Snapshotter, live updates a localtasks.Subscriber, strikes
	// a localtasks.Striker, pauses a localtasks.Pauser; every backend of
	// package localtasks has them all (localtasks.Controller), and the two
	// pools can pause queues and tasks (Capabilities.Pause); a backend that
	// pauses only queues (Capabilities.PauseQueues, as River's) is offered
	// queue pauses.
	Backends []localtasks.Backend
	// Actions turns on the actions that change things: Cancel, Retry,
	// Strike, Restore, Pause and Resume. Off by default: the dashboard is
	// read-only and refuses them with 403.
	Actions bool
	// AllowedHosts are the host names, besides loopback names
	// (localhost, *.localhost) and IP addresses, under which the actions
	// are served: an action whose Host header names another host is
	// refused with 403 host_not_allowed. It guards against DNS rebinding,
	// by which a page of another site reaches a dashboard bound to
	// 127.0.0.1 under a name of its own. Give the names the dashboard is
	// served under, such as "tasks.example.com"; ".example.com" allows a
	// domain and its subdomains; "*" turns the check off. Reads are not
	// checked.
	AllowedHosts []string
	// Title is the page's title. Defaults to TitleDefault.
	Title string
	// MaxStreams caps the event streams (GET api/events) open at once,
	// each page and `localtasks watch` holding one; beyond it, a new
	// stream is answered 503 with the JSON error CodeUnavailable. All the
	// streams share one subscription per backend, and an idle stream
	// costs a few KiB (docs/api.md). Defaults to MaxStreamsDefault; less
	// than zero is an error.
	MaxStreams int
}

// MaxStreamsDefault is the cap of event streams open at once unless
// Config.MaxStreams says otherwise.
const MaxStreamsDefault = 256

// Handler serves the dashboard: the page, its assets, the JSON API and the
// event streams. Build it with New. It is safe for concurrent use. While an
// event stream is open, it runs one goroutine that reads the backends'
// events for all the streams, with one subscription per backend; the last
// stream to end stops it, so that it owns no goroutine otherwise.
type Handler struct {
	backends []backend
	actions  bool
	hosts    hosts // the Host names actions are served under
	title    string
	page     []byte // index.html, rendered once
	root     http.Handler

	samples *sampler
	// now, statsEvery, pingEvery, flushEvery and maxTasks are fixed by
	// New; the tests change them.
	now        func() time.Time
	statsEvery time.Duration
	pingEvery  time.Duration
	flushEvery time.Duration
	maxTasks   int // the most runs' news a stream of every run is sent a flush

	maxStreams int
	hubMu      sync.Mutex     // guards what follows
	streams    int            // open
	hub        *hub           // while a stream is open
	follow     map[string]int // the runs streams of one run follow, with how many streams each
	followCopy map[string]int // a copy of follow that does not change, for the hub; nil for none yet
}

// backend is a configured backend, its label, and the optional interfaces
// it has (nil for those it has not).
type backend struct {
	label string
	c     localtasks.Backend
	sub   localtasks.Subscriber
	strk  localtasks.Striker
	snap  localtasks.Snapshotter
	pause localtasks.Pauser // only if its Capabilities have Pause or PauseQueues
	// pauseTasks: pause can pause tasks too (Capabilities.Pause).
	pauseTasks bool
}

// snapshot is b's Snapshot, or an empty one if it has no Snapshotter.
func (b backend) snapshot(ctx context.Context, opts localtasks.SnapshotOptions) (localtasks.Snapshot, error) {
	if b.snap == nil {
		return localtasks.Snapshot{Backend: b.c.Name()}, nil
	}
	return b.snap.Snapshot(ctx, opts)
}

// counters is b's Counters, or zero if it has no Snapshotter.
func (b backend) counters() localtasks.Counters {
	if b.snap == nil {
		return localtasks.Counters{}
	}
	return b.snap.Counters()
}

const (
	statsEveryDefault = time.Second
	pingEveryDefault  = 15 * time.Second
)

// New checks cfg and returns a Handler for it.
func New(cfg Config) (*Handler, error) {
	bs, err := labelBackends(cfg.Backends)
	if err != nil {
		return nil, err
	}
	hs, err := newHosts(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	if cfg.MaxStreams < 0 {
		return nil, fmt.Errorf("dashboard: Config.MaxStreams is %d: give the most event streams to serve at once, or 0 for %d", cfg.MaxStreams, MaxStreamsDefault)
	}
	h := &Handler{
		backends:   bs,
		actions:    cfg.Actions,
		hosts:      hs,
		title:      cfg.Title,
		samples:    newSampler(len(bs)),
		now:        time.Now,
		statsEvery: statsEveryDefault,
		pingEvery:  pingEveryDefault,
		flushEvery: flushEveryDefault,
		maxTasks:   maxTasksDefault,
		maxStreams: cmp.Or(cfg.MaxStreams, MaxStreamsDefault),
	}
	if h.title == "" {
		h.title = TitleDefault
	}
	if h.page, err = renderPage(h.title, h.actions); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errCrossOrigin())
	}))
	h.root = cop.Handler(h.routes())
	return h, nil
}

// labelBackends checks the configured backends and labels them.
func labelBackends(cs []localtasks.Backend) ([]backend, error) {
	if len(cs) == 0 {
		return nil, errors.New("dashboard: Config.Backends is empty: give at least one backend to show")
	}
	bs := make([]backend, len(cs))
	seen := make(map[string]int, len(cs))
	for i, c := range cs {
		if c == nil {
			return nil, fmt.Errorf("dashboard: Config.Backends[%d] is nil: give the backends to show", i)
		}
		label := c.Name()
		if label == "" {
			label = fmt.Sprintf("backend-%d", i+1)
		}
		if j, ok := seen[label]; ok {
			return nil, fmt.Errorf("dashboard: Config.Backends[%d] and [%d] are both labelled %q: give each backend its own Name, or show each state once", j, i, label)
		}
		seen[label] = i
		bs[i] = backend{label: label, c: c}
		bs[i].sub, _ = c.(localtasks.Subscriber)
		bs[i].strk, _ = c.(localtasks.Striker)
		bs[i].snap, _ = c.(localtasks.Snapshotter)
		bs[i].pause, bs[i].pauseTasks = pauserOf(c)
	}
	return bs, nil
}

// ServeHTTP serves the dashboard's routes (see the package doc and
// docs/api.md), relative to where the handler is mounted.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.root.ServeHTTP(w, r)
}

// routes builds the handler's routes. Each path also has a pattern without
// a method, so that a wrong method gets the JSON 405 of the API rather than
// the mux's plain-text one; "/" catches every other path with a JSON 404.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	route := func(method, path string, f http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, f)
		allow := method
		if method == http.MethodGet {
			allow = "GET, HEAD" // a GET pattern serves HEAD too
		}
		mux.HandleFunc(path, methodNotAllowed(allow))
	}
	route("GET", "/{$}", h.servePage)
	route("GET", "/assets/{name}", serveAsset)
	route("GET", "/api/snapshot", handleJSON(h.serveSnapshot))
	route("GET", "/api/results/{id}", handleJSON(h.serveResult))
	route("GET", "/api/events", h.serveEvents)
	route("GET", "/api/health", handleJSON(h.serveHealth))
	route("POST", "/api/results/{id}/cancel", h.action(h.cancel))
	route("POST", "/api/results/{id}/retry", h.action(h.retry))
	route("POST", "/api/strikes", h.action(h.strike))
	route("POST", "/api/strikes/restore", h.action(h.restore))
	route("POST", "/api/pauses", h.action(h.pause))
	route("POST", "/api/pauses/resume", h.action(h.resume))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no such page or API route %s: the API's routes are under api/ (see docs/api.md)", r.URL.Path))
	})
	return mux
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, &failure{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
			msg: fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow)})
	}
}

// handleJSON serves a route that answers JSON, or a failure. f may set
// headers on w, and must not write the body.
func handleJSON(f func(w http.ResponseWriter, r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, v, err := f(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, status, v)
	}
}
