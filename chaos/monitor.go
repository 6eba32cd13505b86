package main

// What the process pool's workers did during a run, sampled from its
// snapshots: how often they were replaced, how long their starts took,
// whether a start failed, and whether READY runs waited while every worker
// served and none ran one, for the report and for a pool that does not
// settle (settle.go).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

// WorkerStats is what the process pool's workers did during a run, sampled
// from its snapshots.
type WorkerStats struct {
	Restarts int // workers started to replace one that died: a chaos kill or a toxic task
	// Starting is the slots' time spent starting a worker, summed over the
	// slots; LongestStart, the longest one start took. Each start is
	// sampled, from the first snapshot that shows its slot starting to
	// the first that shows it serving: to sampleEvery.
	Starting, LongestStart time.Duration
	// StartFailures counts the starts that failed, each followed by a
	// wait of its slot before it tries again (10 ms, doubling to 5 s);
	// FirstStartFailure is the first one's error.
	StartFailures     int
	FirstStartFailure string
	// IdleWithWork is the longest the pool held READY runs while every
	// slot had a worker serving and none was known to run one: short when
	// the workers take work as they should (a READY run may be on its way
	// to one, or run in one that has not reported its start yet, which a
	// worker short of CPU may take long to); a run missing from the ready
	// queue, or a worker not taking work, makes it last.
	IdleWithWork time.Duration
	// Late is the most a sample came after its time: how busy the machine
	// was, for the parent's goroutines (the workers run at a lower
	// priority: ProcessPoolConfig.Nice).
	Late time.Duration
}

// sampleEvery is how often a workerWatch samples the pool.
const sampleEvery = 50 * time.Millisecond

// workerWatch samples a process pool's snapshot until stopped, for its
// WorkerStats.
type workerWatch struct {
	pool localtasks.Controller
	log  *poolLog
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	stats     WorkerStats
	last      time.Time            // the last sample's time
	starting  map[string]time.Time // the slots seen starting, since when
	idleSince time.Time            // since when the samples saw READY runs with every worker serving and none running
}

// watchWorkers starts sampling pool, whose logger is log's.
func watchWorkers(pool localtasks.Controller, log *poolLog) *workerWatch {
	ww := &workerWatch{pool: pool, log: log, stop: make(chan struct{}), done: make(chan struct{}), starting: make(map[string]time.Time)}
	go ww.run()
	return ww
}

func (ww *workerWatch) run() {
	defer close(ww.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ww.stop:
			return
		case tick := <-t.C:
			snap, err := ww.pool.Snapshot(context.Background(), localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}, Limit: 1})
			if err != nil {
				panic(err) // the options are valid, and the ctx never ends
			}
			ww.sample(snap, snap.At.Sub(tick))
		}
	}
}

// sample takes in one snapshot, taken late after its tick.
func (ww *workerWatch) sample(snap localtasks.Snapshot, late time.Duration) {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	now := snap.At
	ww.stats.Late = max(ww.stats.Late, late)
	ww.stats.Restarts = int(snap.Counters.WorkerRestarts)
	seen := make(map[string]bool)
	for _, w := range snap.Workers {
		if !w.Starting {
			continue
		}
		seen[w.ID] = true
		if _, ok := ww.starting[w.ID]; !ok {
			ww.starting[w.ID] = now
		}
	}
	for slot, since := range ww.starting {
		if !seen[slot] {
			ww.stats.Starting += now.Sub(since)
			ww.stats.LongestStart = max(ww.stats.LongestStart, now.Sub(since))
			delete(ww.starting, slot)
		}
	}
	if snap.Counts.Ready > 0 && snap.Counts.Running == 0 && len(seen) == 0 && len(snap.Workers) > 0 {
		if ww.idleSince.IsZero() {
			ww.idleSince = now
		}
		ww.stats.IdleWithWork = max(ww.stats.IdleWithWork, now.Sub(ww.idleSince))
	} else {
		ww.idleSince = time.Time{}
	}
	ww.last = now
}

// end stops the sampling, and returns the stats.
func (ww *workerWatch) end() WorkerStats {
	close(ww.stop)
	<-ww.done
	return ww.Stats()
}

// Stats returns the stats so far: a start under way counts as long as it
// has gone on.
func (ww *workerWatch) Stats() WorkerStats {
	ww.mu.Lock()
	st := ww.stats
	for _, since := range ww.starting {
		st.Starting += ww.last.Sub(since)
		st.LongestStart = max(st.LongestStart, ww.last.Sub(since))
	}
	ww.mu.Unlock()
	st.StartFailures, st.FirstStartFailure = ww.log.startFailures()
	return st
}

// String says what the workers did, for the report.
func (st WorkerStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d replaced, their slots %v starting them", st.Restarts, st.Starting.Round(time.Millisecond))
	if st.Restarts > 0 {
		fmt.Fprintf(&b, " (%v a start on average, %v the longest)",
			(st.Starting / time.Duration(st.Restarts)).Round(time.Millisecond), st.LongestStart.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "; %d starts failed, each followed by a wait of 10 ms to 5 s", st.StartFailures)
	if st.FirstStartFailure != "" {
		fmt.Fprintf(&b, " (the first: %s)", st.FirstStartFailure)
	}
	fmt.Fprintf(&b, "; READY runs with every worker serving and none running for %v at most; the parent's goroutines up to %v late",
		st.IdleWithWork.Round(time.Millisecond), st.Late.Round(time.Millisecond))
	return b.String()
}

// startFailedMessage is the message of the record the process pool logs
// when a worker fails to start (procpool.go, respawn).
const startFailedMessage = "localtasks: starting a worker process"

// poolLog is the process pool's slog.Handler: it counts the failed worker
// starts, and drops every record.
type poolLog struct {
	mu    sync.Mutex
	fails int
	first string
}

func (h *poolLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *poolLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != startFailedMessage {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails++
	if h.first == "" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				h.first = a.Value.String()
				return false
			}
			return true
		})
	}
	return nil
}

func (h *poolLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *poolLog) WithGroup(string) slog.Handler      { return h }

func (h *poolLog) startFailures() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fails, h.first
}

// describeWorkers lists a snapshot's workers: each starting, or what it
// runs (with the toxic kind of a toxic run), and how many attempts it
// finished.
func (c *chaos) describeWorkers(ws []localtasks.WorkerInfo) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, w := range ws {
		if w.Starting {
			parts = append(parts, w.ID+" starting")
			continue
		}
		running := "nothing"
		if len(w.Running) > 0 {
			var runs []string
			for _, id := range w.Running {
				if r := c.byID[id]; r != nil && r.kind == kindToxic {
					id += " (toxic " + r.toxic + ")"
				}
				runs = append(runs, id)
			}
			running = strings.Join(runs, ", ")
		}
		parts = append(parts, fmt.Sprintf("%s running %s (%d done)", w.ID, running, w.TasksDone))
	}
	return strings.Join(parts, "; ")
}
