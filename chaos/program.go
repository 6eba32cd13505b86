package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// This file is the program that the kill-restart phase (restart.go) kills
// and starts again: the chaos binary itself, started with programEnv set.
// It owns a thread pool and a process pool, each with a SQLite journal in
// the phase's directory, enqueues its share of good tasks, and tells the
// driver on stdout, one JSON line each, when it is ready, each run whose
// Enqueue returned, and when it has nothing left to do. The last one
// started (Final) instead waits for every run, writes the result of each
// acknowledged run, read by ID, and closes.

// programEnv holds a programSpec, in JSON, in the environment of the
// program the driver starts.
const programEnv = "LOCALTASKS_CHAOS_PROGRAM"

// programSpec is what one start of the program is to do.
type programSpec struct {
	Dir       string        // the journals, the ledger and the acknowledged runs
	Tasks     int           // good tasks to enqueue in this start
	Producers int           // goroutines enqueueing them
	Workers   int           // the process pool's workers
	Work      time.Duration // the most an execution of a good task takes
	Seed      uint64        // this start's seed
	Stuck     time.Duration // how long the final start may take to finish every run
	Final     bool          // finish every run, report the acknowledged ones, and close
}

// programLine is one line the program writes on stdout.
type programLine struct {
	Kind   string         `json:"kind"` // "ready", "ack", "idle", "result", "done" or "error"
	Pool   int            `json:"pool,omitempty"`
	ID     string         `json:"id,omitempty"`
	Result *programResult `json:"result,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// programResult is an acknowledged run's result, as the final start reads
// it by ID.
type programResult struct {
	Found    bool              `json:"found"`
	Status   localtasks.Status `json:"status"`
	Value    int               `json:"value"`
	Restarts int               `json:"restarts"` // its errors of type localtasks.Restart: attempts a kill interrupted
	Errors   string            `json:"errors,omitempty"`
}

// The paths in the phase's directory.
func journalPath(dir string, pool int) string {
	return filepath.Join(dir, [2]string{"threads.db", "procs.db"}[pool])
}
func ledgerDir(dir string) string { return filepath.Join(dir, "ledger") }
func ackedPath(dir string) string { return filepath.Join(dir, "acked") }

// poolNames are the backends' names, which their journals record.
var poolNames = [2]string{"chaos-restart-threads", "chaos-restart-procs"}

// program runs one start of the program; what it writes to out is the
// driver's to read. It returns the exit status.
func program(spec string, out io.Writer) int {
	var mu sync.Mutex
	emit := func(l programLine) {
		b, _ := json.Marshal(l)
		mu.Lock()
		defer mu.Unlock()
		out.Write(append(b, '\n')) // one write a line: a kill leaves no half line behind
	}
	fail := func(err error) int {
		emit(programLine{Kind: "error", Error: err.Error()})
		return 1
	}
	var ps programSpec
	if err := json.Unmarshal([]byte(spec), &ps); err != nil {
		return fail(err)
	}
	ctx := context.Background()
	var pools [2]localtasks.Controller
	var journals [2]*sqlitejournal.Journal
	for i := range journals {
		j, err := sqlitejournal.Open(journalPath(ps.Dir, i))
		if err != nil {
			return fail(err)
		}
		defer j.Close() // after the pools' Close, below
		journals[i] = j
	}
	quiet := slog.New(slog.DiscardHandler)
	results := 2*ps.Tasks + 100_000 // none evicted: an evicted result reads as lost
	threads, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4,
		Config: localtasks.Config{Name: poolNames[0], MaxResults: results, Logger: quiet, Journal: journals[0]}})
	if err != nil {
		return fail(err)
	}
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: ps.Workers,
		Config: localtasks.Config{Name: poolNames[1], MaxResults: results, Logger: quiet, Journal: journals[1]}})
	if err != nil {
		threads.Close(ctx)
		return fail(err)
	}
	pools = [2]localtasks.Controller{threads, procs}
	emit(programLine{Kind: "ready"})

	var own []acked // this start's runs, under mu
	var wg sync.WaitGroup
	for p := range ps.Producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(ps.Seed, uint64(p)+1))
			for i := p; i < ps.Tasks; i += ps.Producers {
				pool := rng.IntN(2)
				opts := []localtasks.Option{localtasks.WithPriority(rng.IntN(21) - 10)}
				if rng.Float64() < 0.3 {
					opts = append(opts, localtasks.WithDelay(time.Duration(rng.Int64N(int64(20*time.Millisecond)))))
				}
				args := GoodArgs{Ledger: ledgerDir(ps.Dir), Work: time.Duration(rng.Int64N(int64(ps.Work) + 1))}
				h, err := good.Using(opts...).Enqueue(ctx, pools[pool], args)
				if err != nil {
					emit(programLine{Kind: "error", Error: fmt.Sprintf("enqueue on pool %d: %v", pool, err)})
					return
				}
				emit(programLine{Kind: "ack", Pool: pool, ID: h.ID()})
				mu.Lock()
				own = append(own, acked{pool, h.ID()})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	dctx, cancel := context.WithTimeout(ctx, ps.Stuck)
	defer cancel()
	for i, p := range pools {
		if err := p.Drain(dctx); err != nil {
			emit(programLine{Kind: "error", Error: fmt.Sprintf("pool %d does not drain: %v", i, err)})
		}
	}
	if !ps.Final {
		// Nothing left to do: the driver kills it now. Until then it
		// waits on stdin, which the driver never closes.
		emit(programLine{Kind: "idle"})
		io.Copy(io.Discard, os.Stdin)
	} else if err := reportAcked(ctx, ps.Dir, own, pools, emit); err != nil {
		emit(programLine{Kind: "error", Error: err.Error()})
	}
	status := 0
	for i, p := range pools {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.Close(cctx); err != nil {
			emit(programLine{Kind: "error", Error: fmt.Sprintf("closing pool %d: %v", i, err)})
			status = 1
		}
		cancel()
	}
	for _, j := range journals {
		if err := j.Close(); err != nil {
			emit(programLine{Kind: "error", Error: err.Error()})
			status = 1
		}
	}
	emit(programLine{Kind: "done"})
	return status
}

// acked is a run whose Enqueue returned.
type acked struct {
	pool int
	id   string
}

// reportAcked writes the result of each run that the driver lists in the
// acknowledged file, one "<pool> <id>" a line, and of each of own.
func reportAcked(ctx context.Context, dir string, own []acked, pools [2]localtasks.Controller, emit func(programLine)) error {
	b, err := os.ReadFile(ackedPath(dir))
	if err != nil {
		return err
	}
	runs := make([]acked, 0, len(own))
	for line := range strings.Lines(string(b)) {
		var a acked
		if _, err := fmt.Sscan(line, &a.pool, &a.id); err != nil || a.pool < 0 || a.pool > 1 {
			return fmt.Errorf("a bad line in %s: %q", ackedPath(dir), line)
		}
		runs = append(runs, a)
	}
	for _, a := range append(runs, own...) {
		pool, id := a.pool, a.id
		pr := &programResult{}
		res, err := pools[pool].GetResult(ctx, id)
		if err == nil {
			pr.Found, pr.Status = true, res.Status
			pr.Value, _ = res.Value.(int)
			for _, e := range res.Errors {
				if e.Type == "localtasks.Restart" {
					pr.Restarts++
				}
			}
			if res.Status != localtasks.StatusSuccessful {
				pr.Errors = fmt.Sprintf("%s %v", res.CancelReason, res.Errors)
			}
		} else {
			pr.Errors = err.Error()
		}
		emit(programLine{Kind: "result", Pool: pool, ID: id, Result: pr})
	}
	return nil
}
