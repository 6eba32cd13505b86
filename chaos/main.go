// Command chaos runs ProcessPoolBackend and ThreadPoolBackend under faults
// and checks that no task is lost: producers enqueue good tasks (with
// jittered run-after times, mixed priorities, some with keys) into both
// pools while, at every interval, the chaos may SIGKILL a worker process
// (8%), enqueue a toxic task that exits, panics, loops past its timeout,
// allocates past the memory limit, waits past its timeout for a child
// process that outlives it, or succeeds leaving a child running (5%),
// cancel a random run, or strike and restore a task. At the end every run
// must be in a final status, every good run SUCCESSFUL with exactly one
// successful execution, every toxic run FAILED for its reason (a fork
// SUCCESSFUL), both pools still serving, and no goroutine, worker process or
// task's child process left.
//
// Then, in a phase of its own (restart.go), it kills the whole program: a
// child process with both pools, each with a SQLite journal, is SIGKILLed
// with its worker processes at a random moment while it enqueues, and
// started again on the same journals, -kills times. Every run whose
// Enqueue returned must be in its journal after each kill and SUCCESSFUL
// at the end, readable by ID; a run a journal held finished must not run
// again; a run interrupted while it ran may (at least once), and is
// counted.
//
// It exits 1 and prints the seed to replay when a check fails.
//
//	cd chaos && go run .             # 20,000 tasks, a fault draw every 250 ms; then 5 kill-restarts
//	cd chaos && go run . -seed 42    # replay a run
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/localtasks/localtasks"
)

func main() {
	localtasks.Init()
	if spec, ok := os.LookupEnv(programEnv); ok { // the kill-restart phase's program
		os.Unsetenv(programEnv)
		os.Exit(program(spec, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Workers: 2}
	fs.IntVar(&cfg.Tasks, "tasks", 20_000, "good tasks to enqueue")
	fs.IntVar(&cfg.Producers, "producers", 4, "goroutines enqueueing them")
	fs.DurationVar(&cfg.Interval, "interval", 250*time.Millisecond, "time between fault draws")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "the seed, to replay a run")
	fs.DurationVar(&cfg.Work, "work", 5*time.Millisecond, "the most an execution of a good task takes")
	fs.DurationVar(&cfg.Faults, "faults", 2*time.Minute, "how long the faults go on after the producers, unless the pools finish sooner")
	fs.BoolVar(&cfg.EachToxic, "each-toxic", true, "enqueue one toxic task of each kind at the start, besides those drawn")
	rcfg := RestartConfig{Producers: 4, Workers: 2}
	fs.DurationVar(&rcfg.Stuck, "stuck", 2*time.Minute, "how long the kill-restart phase's last start may take to finish every run")
	fs.IntVar(&rcfg.Kills, "kills", 5, "kill-restarts of the whole program, in a phase of their own after the others; 0 for none")
	fs.IntVar(&rcfg.Tasks, "restart-tasks", 3000, "good tasks to enqueue in the kill-restart phase")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "localtasks-chaos-")
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	cfg.Ledger = dir
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v (seed %d)\n", err, cfg.Seed)
		return 2
	}
	rep.Print(stdout)
	status := 0
	if len(rep.Problems) > 0 {
		status = 1
	}
	if rcfg.Kills > 0 {
		rcfg.Seed, rcfg.Work, rcfg.Dir = cfg.Seed, cfg.Work, filepath.Join(dir, "restart")
		rrep, err := RunRestarts(ctx, rcfg)
		if err != nil {
			fmt.Fprintf(stderr, "chaos: kill-restart: %v (seed %d)\n", err, cfg.Seed)
			return 2
		}
		rrep.Print(stdout)
		if len(rrep.Problems) > 0 {
			status = 1
		}
	}
	return status
}
