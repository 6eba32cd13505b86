package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// The kill-restart phase: the driver starts the program (program.go), a
// process of its own with both pools and their journals, SIGKILLs it with
// its worker processes at a random moment, waits until every one of them
// is gone, reads what the journals hold as a restart would, and starts it
// again on the same journals; the last start finishes every run. It is a
// phase apart from the in-process chaos, whose other faults need the pools
// in the driver's process (Snapshot for the workers to kill, Cancel,
// Strike, goleak), so that neither needs a protocol for the other's calls.

// RestartConfig sets the size of the kill-restart phase.
type RestartConfig struct {
	Tasks     int           // good tasks to enqueue, over every start and both pools
	Kills     int           // how many times the program is killed and started again
	Producers int           // goroutines enqueueing, in the program
	Workers   int           // the process pool's workers
	Work      time.Duration // the most an execution of a good task takes
	Seed      uint64        // replays the phase's draws
	Dir       string        // a fresh directory for the journals and the ledger
	Stuck     time.Duration // how long the last start may take to finish every run
}

// RestartReport is the outcome of the kill-restart phase.
type RestartReport struct {
	Seed uint64
	// Kills counts the kills, and EarlyKills those of them that came as
	// soon as the program was ready, before it enqueued anything.
	Kills, EarlyKills int
	// Acked counts the runs whose Enqueue returned (the program said so
	// before it was killed), and Succeeded those of them SUCCESSFUL after
	// the last start.
	Acked, Succeeded int
	// HeldQueued and HeldRunning sum, over the kills, the runs the
	// journals held queued or scheduled, and running: the runs each
	// restart had to take back.
	HeldQueued, HeldRunning int
	// WorkersKilled counts the worker processes killed with the program.
	WorkersKilled int
	// Reexecuted counts the runs executed more than once: interrupted by a
	// kill, and run again (at least once, as the journal promises);
	// Reexecutions the executions beyond each run's first; Resumed the
	// attempts that the results record as interrupted by a restart;
	// FoundSuccess the executions that found the run's success recorded
	// in the ledger (the kill came between the task's end and the
	// journal's commit of it), and returned it without doing the work.
	Reexecuted, Reexecutions, Resumed, FoundSuccess int
	// Lost counts acknowledged runs missing from a journal after a kill,
	// or from the results; Replays the executions of runs after a journal
	// held them finished. Both must be 0.
	Lost, Replays int
	Elapsed       time.Duration
	Problems      []string
}

// restart is the state of the phase.
type restart struct {
	cfg   RestartConfig
	rep   *RestartReport
	acked map[string]int // ID -> pool
	order []string       // the acknowledged IDs, in order
	// done holds, for each run a journal held finished after a kill, its
	// ledger's executions then: they must not grow.
	done map[string]int
	// reported holds the runs whose result the last start reported.
	reported map[string]bool
	lost     map[string]bool // the acknowledged runs found missing
}

// RunRestarts runs the kill-restart phase and checks its outcome; the
// report lists every problem found. The error is for a phase that could
// not run at all.
func RunRestarts(ctx context.Context, cfg RestartConfig) (*RestartReport, error) {
	if err := killSupported(); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := os.MkdirAll(ledgerDir(cfg.Dir), 0o755); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &restart{cfg: cfg, rep: &RestartReport{Seed: cfg.Seed}, acked: make(map[string]int), done: make(map[string]int),
		reported: make(map[string]bool), lost: make(map[string]bool)}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x4e57a47))
	for n := 0; n <= cfg.Kills; n++ {
		final := n == cfg.Kills
		left := cfg.Tasks - len(r.acked)
		// Killed after a random number of its acknowledgements, so that
		// about as many starts share the tasks; or, one time in five after
		// the first, as soon as it is ready, while it runs what it took
		// back.
		killAt := 1 + rng.IntN(max(1, 2*left/(cfg.Kills-n+1)))
		if rng.IntN(5) == 0 && n > 0 && !final {
			killAt = 0
			r.rep.EarlyKills++
		}
		if final {
			if err := r.writeAcked(); err != nil {
				return nil, err
			}
		}
		ps := programSpec{Dir: cfg.Dir, Tasks: left, Producers: cfg.Producers, Workers: cfg.Workers, Work: cfg.Work,
			Seed: rng.Uint64(), Stuck: cfg.Stuck, Final: final}
		if err := r.start(ctx, exe, ps, killAt); err != nil {
			return nil, err
		}
		if !final {
			r.rep.Kills++
			r.peek(n + 1)
		}
	}
	r.rep.Acked = len(r.acked)
	for _, id := range r.order {
		if !r.reported[id] {
			r.lost[id] = true
			r.problem("acknowledged run %s has no result from the last start", id)
		}
	}
	for id, execs := range r.done {
		if now := r.executions(id); now != execs {
			r.rep.Replays++
			r.problem("run %s was executed %d times more after a journal held it finished", id, now-execs)
		}
	}
	r.rep.Lost = len(r.lost)
	r.rep.Elapsed = time.Since(start)
	return r.rep, nil
}

func (r *restart) problem(format string, args ...any) {
	r.rep.Problems = append(r.rep.Problems, fmt.Sprintf(format, args...))
}

// start runs one start of the program: until the driver kills it, after
// killAt acknowledgements (0: once it is ready) or once it is idle, or
// until it is done, if it is the final one. It returns once the program and its workers are gone.
func (r *restart) start(ctx context.Context, exe string, ps programSpec, killAt int) error {
	spec, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe) // under go test, TestMain runs the program, not the tests
	cmd.Env = append(os.Environ(), programEnv+"="+string(spec))
	cmd.SysProcAttr = programAttr()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	killed, acks, done := false, 0, false
	var workers []int
	kill := func() {
		if killed {
			return
		}
		killed = true
		var err error
		if workers, err = killProgram(cmd.Process.Pid); err != nil {
			r.problem("killing the program: %v", err)
		}
	}
	in := bufio.NewReader(stdout)
	for {
		line, err := in.ReadBytes('\n')
		if err != nil { // EOF: a line without its newline was cut by the kill, and is not an acknowledgement
			break
		}
		var l programLine
		if err := json.Unmarshal(line, &l); err != nil {
			r.problem("the program wrote %q: %v", line, err)
			continue
		}
		switch l.Kind {
		case "ready":
			if killAt == 0 && !ps.Final {
				kill()
			}
		case "ack":
			r.acked[l.ID] = l.Pool
			r.order = append(r.order, l.ID)
			if acks++; acks == killAt && !ps.Final {
				kill()
			}
		case "idle":
			kill()
		case "result":
			r.reported[l.ID] = true
			r.checkResult(l.ID, l.Result)
		case "done":
			done = true
		case "error":
			r.problem("the program: %s", l.Error)
		}
	}
	waitErr := cmd.Wait()
	r.rep.WorkersKilled += len(workers)
	for _, pid := range workers {
		if err := waitGone(pid, childGrace); err != nil {
			r.problem("worker process %d outlived its killed program: %v", pid, err)
		}
	}
	switch {
	case stderr.Len() > 0: // the program logs nothing: this is a crash, or a data race that -race found
		r.problem("the program wrote to its stderr (exit: %v): %s", waitErr, tail(stderr.String()))
	case ps.Final && (waitErr != nil || !done):
		r.problem("the last start of the program did not finish: %v; its stderr: %s", waitErr, tail(stderr.String()))
	case !ps.Final && !killed:
		r.problem("the program exited before it was killed: %v; its stderr: %s", waitErr, tail(stderr.String()))
	}
	return nil
}

// peek reads the journals as the next start will, on a copy, so that the
// start recovers the files the kill left: every acknowledged run must be
// in them; the finished ones must not run again.
func (r *restart) peek(kill int) {
	held := make(map[string]bool)
	for pool := range 2 {
		err := readJournal(journalPath(r.cfg.Dir, pool), func(run *localtasks.JournalRun) error {
			held[run.ID] = true
			switch {
			case run.Status == localtasks.StatusRunning:
				r.rep.HeldRunning++
			case !run.Status.Finished():
				r.rep.HeldQueued++
			default:
				if _, seen := r.done[run.ID]; !seen {
					r.done[run.ID] = r.executions(run.ID)
				}
			}
			return nil
		})
		if err != nil {
			r.problem("reading journal %d after kill %d: %v", pool, kill, err)
		}
	}
	for _, id := range r.order {
		if !held[id] {
			r.lost[id] = true
			r.problem("acknowledged run %s is not in its journal after kill %d", id, kill)
		}
	}
}

// readJournal calls run with each run of the journal at path, read from a
// copy of its files.
func readJournal(path string, run func(*localtasks.JournalRun) error) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), "peek-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal"} { // not -shm: SQLite rebuilds it from the log
		err := copyFile(path+suffix, cp+suffix)
		if err != nil && !(suffix != "" && errors.Is(err, os.ErrNotExist)) {
			return err
		}
	}
	j, err := sqlitejournal.Open(cp)
	if err != nil {
		return err
	}
	defer j.Close()
	return j.Load(context.Background(), run, func(*localtasks.JournalStrike) error { return nil })
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// writeAcked writes the acknowledged runs for the final start to read.
func (r *restart) writeAcked() error {
	var b strings.Builder
	for _, id := range r.order {
		fmt.Fprintf(&b, "%d %s\n", r.acked[id], id)
	}
	return os.WriteFile(ackedPath(r.cfg.Dir), []byte(b.String()), 0o644)
}

// checkResult checks an acknowledged run's result after the last start.
func (r *restart) checkResult(id string, res *programResult) {
	if res == nil || !res.Found {
		r.lost[id] = true
		r.problem("acknowledged run %s is lost: %v", id, res)
		return
	}
	if res.Status != localtasks.StatusSuccessful {
		r.problem("acknowledged run %s ended %v: %s", id, res.Status, res.Errors)
		return
	}
	r.rep.Succeeded++
	r.rep.Resumed += res.Restarts
	v, err := readOK(filepath.Join(ledgerDir(r.cfg.Dir), id+".ok"))
	if err != nil {
		r.problem("run %s is SUCCESSFUL but its ledger has no success: %v", id, err)
	} else if v != res.Value {
		r.problem("run %s returned %v, but its ledger says attempt %d succeeded", id, res.Value, v)
	}
	// The good tasks here never fail: an execution beyond the first is of
	// an attempt that a kill interrupted.
	execs, replays := ledgerCounts(filepath.Join(ledgerDir(r.cfg.Dir), id+".exec"))
	if n := execs + replays; n > 1 {
		r.rep.Reexecuted++
		r.rep.Reexecutions += n - 1
		r.rep.FoundSuccess += replays
	}
}

// executions counts a run's executions in its ledger: the first, and the
// ones after it, which find its success recorded or not.
func (r *restart) executions(id string) int {
	execs, replays := ledgerCounts(filepath.Join(ledgerDir(r.cfg.Dir), id+".exec"))
	return execs + replays
}

// tail returns the end of s, for a message.
func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// Print writes the report.
func (r *RestartReport) Print(w io.Writer) {
	fmt.Fprintf(w, "chaos, kill-restart: seed %d, %v\n", r.Seed, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  %d kills of the whole program (%d worker processes with it; %d kills as soon as it was ready), each followed by a start on the same journals\n",
		r.Kills, r.WorkersKilled, r.EarlyKills)
	fmt.Fprintf(w, "  at the kills the journals held %d runs queued or scheduled and %d running\n", r.HeldQueued, r.HeldRunning)
	fmt.Fprintf(w, "  %d acknowledged runs, %d SUCCESSFUL after the last start; %d lost\n", r.Acked, r.Succeeded, r.Lost)
	fmt.Fprintf(w, "  %d runs executed again after a kill interrupted them: %d executions more, %d of which found the success recorded; %d attempts recorded as interrupted by a restart\n",
		r.Reexecuted, r.Reexecutions, r.FoundSuccess, r.Resumed)
	fmt.Fprintf(w, "  %d replays of a run a journal held finished\n", r.Replays)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "  every check passed: every acknowledged run in the journal at each kill and SUCCESSFUL at the end, no finished run run again, every worker gone before each start")
		return
	}
	printProblems(w, r.Problems, r.Seed)
}
