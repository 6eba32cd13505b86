package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

// Config sets the size and pace of a chaos run.
type Config struct {
	Tasks     int           // good tasks to enqueue, over both pools
	Producers int           // goroutines enqueueing them
	Interval  time.Duration // between fault draws
	Seed      uint64        // replays a run
	Workers   int           // the process pool's workers
	Ledger    string        // a fresh directory for the tasks' ledger
	Faults    time.Duration // how long the faults go on once the producers are done, unless both pools finish every run sooner
	Work      time.Duration // the most an execution of a good task takes
	EachToxic bool          // enqueue one toxic task of each kind at the start, besides those drawn
	// GiveUp is when the chaos stops waiting for pools that still make
	// progress, to report before its caller's deadline; zero for never. A
	// pool that makes none is reported stuck sooner: see stallLimit.
	GiveUp time.Time
}

// The chances of each fault at each draw.
const (
	killChance   = 0.08
	toxicChance  = 0.05
	cancelChance = 0.25
	strikeChance = 0.05
)

type runKind uint8

const (
	kindGood runKind = iota
	kindVictim
	kindToxic
)

// taskRun is what the chaos knows of one run it enqueued.
type taskRun struct {
	id        string
	pool      int
	kind      runKind
	toxic     string
	struck    bool // enqueued while its task was struck
	cancelled bool // Cancel succeeded
	finished  bool // Cancel found it finished
}

// chaos is the state of one run of the driver.
type chaos struct {
	cfg   Config
	pools [2]localtasks.Controller
	names [2]string
	watch *workerWatch // the process pool's workers

	mu      sync.Mutex
	runs    []*taskRun
	byID    map[string]*taskRun
	pids    map[int]bool // every worker process seen
	killed  map[int]bool // the ones the chaos killed
	dups    int          // enqueues answered AlreadyEnqueued
	striken bool
	faults  struct{ kills, toxic, cancels, strikes, restores int }
}

// Report is the outcome of a chaos run.
type Report struct {
	Seed                               uint64
	Runs, Good, Victims, Toxic, Dups   int
	Kills, ToxicFaults, Cancels        int
	Strikes, Restores                  int
	Succeeded, Cancelled, Failed       int
	ExecutedOnce, ExecutedMore, Replay int
	MaxExecutions                      int
	Children                           int // child processes the orphan tasks started, each checked gone
	// MemoryLimited counts the alloc runs that failed on the memory limit;
	// TimedOutFirst, the alloc and fork runs that timed out before their
	// fault (see checkToxic).
	MemoryLimited, TimedOutFirst int
	Elapsed                      time.Duration
	// Workers is what the process pool's workers did; ToxicBusy, how
	// long the toxic runs held one, by kind, from their last attempt's
	// start to their end.
	Workers   WorkerStats
	ToxicBusy map[string]time.Duration
	// Settle is how long the pools took to finish once the faults
	// stopped; Backlog, what they had left to do then; SettleWorkers, what
	// the process pool's workers did meanwhile (its Restarts and Starting).
	Settle        time.Duration
	Backlog       string
	SettleWorkers WorkerStats
	Problems      []string
}

// procGrace is the process pool's CancelGrace.
const procGrace = 200 * time.Millisecond

// Run runs the chaos and checks its outcome; the report lists every
// problem found. The error is for a chaos that could not run at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	before := goleak.IgnoreCurrent()
	c := &chaos{cfg: cfg, byID: make(map[string]*taskRun), pids: make(map[int]bool), killed: make(map[int]bool)}
	quiet := slog.New(slog.DiscardHandler)
	plog := &poolLog{}
	results := 2*cfg.Tasks + 1000
	threads, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 8,
		Config: localtasks.Config{Name: "chaos-threads", MaxResults: results, Logger: quiet}})
	if err != nil {
		return nil, err
	}
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: cfg.Workers,
		MemoryLimit: 256 << 20, CancelGrace: procGrace,
		Config: localtasks.Config{Name: "chaos-procs", MaxResults: results, Logger: slog.New(plog)}})
	if err != nil {
		threads.Close(ctx)
		return nil, err
	}
	c.pools = [2]localtasks.Controller{threads, procs}
	c.names = [2]string{"thread pool", "process pool"}
	rep := &Report{Seed: cfg.Seed}
	problem := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
	}

	c.watch = watchWorkers(procs, plog)
	c.produceUnderFire(ctx, problem)
	settleStart, atSettle := time.Now(), c.watch.Stats()
	rep.Backlog = c.backlog()
	c.settle(ctx, problem)
	rep.Settle = time.Since(settleStart)
	rep.Workers = c.watch.end()
	rep.SettleWorkers = WorkerStats{Restarts: rep.Workers.Restarts - atSettle.Restarts, Starting: rep.Workers.Starting - atSettle.Starting}
	c.check(rep, problem)
	for i, p := range c.pools { // both pools still serve
		h, err := good.Enqueue(ctx, p, GoodArgs{Ledger: cfg.Ledger})
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err = h.Wait(wctx)
			cancel()
		}
		if err != nil {
			problem("the %s no longer serves: %v", c.names[i], err)
		}
	}
	c.seeWorkers()
	for i, p := range c.pools {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.Close(cctx); err != nil {
			problem("closing the %s: %v", c.names[i], err)
		}
		cancel()
	}
	for pid := range c.pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			problem("worker process %d outlived its pool", pid)
		}
	}
	rep.Children = c.checkChildren(problem)
	if err := goleak.Find(before); err != nil {
		problem("goroutines are left: %v", err)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// produceUnderFire runs the producers, and draws faults until they are
// done and the pools have finished every run once.
func (c *chaos) produceUnderFire(ctx context.Context, problem func(string, ...any)) {
	var wg sync.WaitGroup
	errs := make(chan error, c.cfg.Producers)
	for p := range c.cfg.Producers {
		wg.Go(func() {
			if err := c.produce(ctx, p); err != nil {
				errs <- err
			}
		})
	}
	quiet := make(chan struct{})
	go func() {
		wg.Wait()
		dctx, cancel := context.WithTimeout(ctx, c.cfg.Faults)
		for _, p := range c.pools {
			p.Drain(dctx) // settle reports a pool that does not drain
		}
		cancel()
		close(quiet)
	}()

	if c.cfg.EachToxic {
		for _, kind := range toxicKinds {
			c.enqueueToxic(ctx, kind, problem)
		}
	}
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 0xc4a05))
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			c.fault(ctx, rng, problem)
		case <-quiet:
			done = true
		}
	}
	close(errs)
	for err := range errs {
		problem("a producer: %v", err)
	}
	if c.striken {
		c.toggleStrike(problem)
	}
}

// produce enqueues producer p's share of the good tasks.
func (c *chaos) produce(ctx context.Context, p int) error {
	rng := rand.New(rand.NewPCG(c.cfg.Seed, uint64(p)+1))
	for i := p; i < c.cfg.Tasks; i += c.cfg.Producers {
		pool := i % 2
		task, kind := good, kindGood
		if rng.Float64() < 0.1 {
			task, kind = victim, kindVictim
		}
		opts := []localtasks.Option{localtasks.WithPriority(rng.IntN(21) - 10)}
		if rng.Float64() < 0.3 {
			opts = append(opts, localtasks.WithDelay(time.Duration(rng.Int64N(int64(20*time.Millisecond)))))
		}
		if rng.Float64() < 0.1 {
			opts = append(opts, localtasks.WithKey(fmt.Sprintf("key-%d", rng.IntN(50))))
		}
		args := GoodArgs{Ledger: c.cfg.Ledger, Work: time.Duration(rng.Int64N(int64(c.cfg.Work) + 1)), Fail: 0.05}
		h, err := task.Using(opts...).Enqueue(ctx, c.pools[pool], args)
		if err != nil {
			return fmt.Errorf("enqueue on the %s: %w", c.names[pool], err)
		}
		c.mu.Lock()
		switch h.Disposition() {
		case localtasks.AlreadyEnqueued:
			c.dups++
		default:
			c.add(&taskRun{id: h.ID(), pool: pool, kind: kind, struck: h.Disposition() == localtasks.Struck})
		}
		c.mu.Unlock()
	}
	return nil
}

// add records a run. Must hold c.mu.
func (c *chaos) add(r *taskRun) {
	c.runs = append(c.runs, r)
	c.byID[r.id] = r
}

// fault draws the faults of one tick.
func (c *chaos) fault(ctx context.Context, rng *rand.Rand, problem func(string, ...any)) {
	if rng.Float64() < killChance {
		c.killWorker(rng)
	}
	if rng.Float64() < toxicChance {
		c.enqueueToxic(ctx, toxicKinds[rng.IntN(len(toxicKinds))], problem)
	}
	if rng.Float64() < cancelChance {
		c.cancelOne(ctx, rng, problem)
	}
	if rng.Float64() < strikeChance {
		c.toggleStrike(problem)
	}
}

// enqueueToxic enqueues a toxic task of kind on the process pool.
func (c *chaos) enqueueToxic(ctx context.Context, kind string, problem func(string, ...any)) {
	if kind == toxicFork && !forkSwept {
		kind = toxicOrphan
	}
	var h localtasks.Handle[int]
	var err error
	switch kind {
	case toxicAlloc:
		h, err = toxic.Using(localtasks.WithTimeout(toxicAllocTimeout)).Enqueue(ctx, c.pools[1], kind)
	case toxicOrphan, toxicFork:
		h, err = orphan.Enqueue(ctx, c.pools[1], OrphanArgs{Ledger: c.cfg.Ledger, Wait: kind == toxicOrphan})
	default:
		h, err = toxic.Enqueue(ctx, c.pools[1], kind)
	}
	if err != nil {
		problem("enqueue of a toxic task: %v", err)
		return
	}
	c.mu.Lock()
	c.add(&taskRun{id: h.ID(), pool: 1, kind: kindToxic, toxic: kind})
	c.faults.toxic++
	c.mu.Unlock()
}

// seeWorkers records the process pool's workers, and returns those that
// run no toxic task.
func (c *chaos) seeWorkers() []int {
	snap, err := c.pools[1].Snapshot(context.Background(), localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusRunning}, Limit: 1})
	if err != nil {
		panic(err) // the options are valid, and the ctx never ends
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var safe []int
	for _, w := range snap.Workers {
		if w.Starting {
			continue // no process yet: PID 0, which kill(2) takes for this process's own group
		}
		c.pids[w.PID] = true
		if !slices.ContainsFunc(w.Running, func(id string) bool { r := c.byID[id]; return r != nil && r.kind == kindToxic }) {
			safe = append(safe, w.PID)
		}
	}
	return safe
}

// killWorker SIGKILLs a worker process that runs no toxic task, so that a
// toxic task fails for its own reason.
func (c *chaos) killWorker(rng *rand.Rand) {
	safe := c.seeWorkers()
	if len(safe) == 0 {
		return
	}
	pid := safe[rng.IntN(len(safe))]
	c.mu.Lock()
	c.killed[pid] = true
	c.faults.kills++
	c.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
}

func (c *chaos) cancelOne(ctx context.Context, rng *rand.Rand, problem func(string, ...any)) {
	c.mu.Lock()
	if len(c.runs) == 0 {
		c.mu.Unlock()
		return
	}
	r := c.runs[rng.IntN(len(c.runs))]
	if r.kind == kindToxic || r.cancelled || r.finished {
		c.mu.Unlock()
		return
	}
	c.faults.cancels++
	c.mu.Unlock()
	err := c.pools[r.pool].Cancel(ctx, r.id)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		r.cancelled = true
	case errors.Is(err, localtasks.ErrFinished):
		r.finished = true
	default:
		problem("cancel of %s: %v", r.id, err)
	}
}

// toggleStrike strikes the victim task on both pools, or restores it.
func (c *chaos) toggleStrike(problem func(string, ...any)) {
	st := localtasks.Strike{Task: victim.Name()}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pools {
		var err error
		if c.striken {
			err = p.Restore(st)
		} else {
			err = p.Strike(st)
		}
		if err != nil {
			problem("strike/restore: %v", err)
		}
	}
	if c.striken {
		c.faults.restores++
	} else {
		c.faults.strikes++
	}
	c.striken = !c.striken
}

// check checks every run's outcome against what the chaos did to it.
func (c *chaos) check(rep *Report, problem func(string, ...any)) {
	ctx := context.Background()
	c.mu.Lock()
	defer c.mu.Unlock()
	rep.Runs, rep.Dups = len(c.runs), c.dups
	rep.Kills, rep.ToxicFaults, rep.Cancels = c.faults.kills, c.faults.toxic, c.faults.cancels
	rep.Strikes, rep.Restores = c.faults.strikes, c.faults.restores
	rep.ToxicBusy = make(map[string]time.Duration)
	for _, r := range c.runs {
		res, err := c.pools[r.pool].GetResult(ctx, r.id)
		if err != nil {
			problem("run %s is lost: %v", r.id, err)
			continue
		}
		if !res.Status.Finished() {
			problem("run %s (%s) is %v, not finished", r.id, res.Task, res.Status)
			continue
		}
		switch res.Status {
		case localtasks.StatusSuccessful:
			rep.Succeeded++
		case localtasks.StatusCancelled:
			rep.Cancelled++
		case localtasks.StatusFailed:
			rep.Failed++
		}
		switch r.kind {
		case kindToxic:
			rep.Toxic++
			c.checkToxic(r, res, rep, problem)
		default:
			if r.kind == kindGood {
				rep.Good++
			} else {
				rep.Victims++
			}
			c.checkGood(r, res, rep, problem)
		}
	}
}

func (c *chaos) checkGood(r *taskRun, res localtasks.TaskResult, rep *Report, problem func(string, ...any)) {
	switch {
	case r.cancelled:
		if res.Status != localtasks.StatusCancelled {
			problem("run %s was cancelled but ended %v", r.id, res.Status)
		}
		return
	case res.Status == localtasks.StatusCancelled && r.kind == kindVictim && strings.Contains(res.CancelReason, "struck"):
		return
	case r.struck:
		problem("run %s was struck at enqueue but ended %v (%s)", r.id, res.Status, res.CancelReason)
		return
	case res.Status != localtasks.StatusSuccessful:
		problem("good run %s ended %v: %s %v", r.id, res.Status, res.CancelReason, res.Errors)
		return
	}
	v, err := readOK(filepath.Join(c.cfg.Ledger, r.id+".ok"))
	if err != nil {
		problem("good run %s is SUCCESSFUL but its ledger has no success: %v", r.id, err)
		return
	}
	if v != res.Value {
		problem("good run %s returned %v, but its ledger says attempt %d succeeded", r.id, res.Value, v)
	}
	// More executions than one come from retries: of failed attempts, and
	// of attempts whose worker the chaos killed (some before the parent
	// heard they had started).
	execs, replays := ledgerCounts(filepath.Join(c.cfg.Ledger, r.id+".exec"))
	rep.Replay += replays
	rep.MaxExecutions = max(rep.MaxExecutions, execs)
	if execs == 1 {
		rep.ExecutedOnce++
	} else {
		rep.ExecutedMore++
	}
}

// ledgerCounts counts a run's executions and replays in its ledger file.
func ledgerCounts(path string) (execs, replays int) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "exec "):
			execs++
		case strings.HasPrefix(line, "replay "):
			replays++
		}
	}
	return execs, replays
}

// checkToxic checks that a toxic run FAILED for its own reason (a fork
// SUCCEEDED), or was killed by the chaos (which avoids that, but a worker
// may take a toxic task between the look and the kill). An alloc or a fork
// may time out first, on a machine that gives their worker, of the lowest
// priority, too little CPU to reach the memory limit, or to start its
// child, within the timeout: that is counted, and the report says so (the
// root's TestProcessPoolMemoryLimit checks the limit on its own).
func (c *chaos) checkToxic(r *taskRun, res localtasks.TaskResult, rep *Report, problem func(string, ...any)) {
	if r.toxic == toxicFork && res.Status == localtasks.StatusSuccessful {
		return
	}
	if res.Status != localtasks.StatusFailed || len(res.Errors) == 0 {
		problem("toxic run %s (%s) ended %v, not FAILED", r.id, r.toxic, res.Status)
		return
	}
	if !res.LastAttemptedAt.IsZero() {
		rep.ToxicBusy[r.toxic] += res.FinishedAt.Sub(res.LastAttemptedAt)
	}
	last := res.Errors[len(res.Errors)-1]
	if (r.toxic == toxicAlloc || r.toxic == toxicFork) && strings.HasPrefix(last.Message, "timed out after") {
		rep.TimedOutFirst++
		return
	}
	if r.toxic == toxicAlloc && strings.Contains(last.Message, "memory limit") {
		rep.MemoryLimited++
	}
	want := map[string]string{
		toxicExit:   "exited with code 3",
		toxicPanic:  "chaos: a toxic panic",
		toxicLoop:   "timed out after",
		toxicAlloc:  "memory limit",
		toxicOrphan: "timed out after",
		toxicFork:   "(a fork succeeds)",
	}[r.toxic]
	if strings.Contains(last.Message, want) {
		return
	}
	for pid := range c.killed {
		if strings.Contains(last.Message, fmt.Sprintf("worker process %d died", pid)) {
			return
		}
	}
	problem("toxic run %s (%s) failed with %q, not %q", r.id, r.toxic, last.Message, want)
}

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "chaos: seed %d, %v\n", r.Seed, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  runs: %d (good %d, victim %d, toxic %d); %d enqueues answered already-enqueued\n", r.Runs, r.Good, r.Victims, r.Toxic, r.Dups)
	fmt.Fprintf(w, "  faults: %d workers killed, %d toxic tasks, %d cancels, %d strikes, %d restores\n",
		r.Kills, r.ToxicFaults, r.Cancels, r.Strikes, r.Restores)
	fmt.Fprintf(w, "  outcomes: %d SUCCESSFUL, %d CANCELLED, %d FAILED\n", r.Succeeded, r.Cancelled, r.Failed)
	fmt.Fprintf(w, "  good runs: %d executed once, %d more than once (at most %d), %d replays of a recorded success\n",
		r.ExecutedOnce, r.ExecutedMore, r.MaxExecutions, r.Replay)
	fmt.Fprintf(w, "  tasks' child processes: %d started, to outlive their tasks; each checked gone with its worker\n", r.Children)
	fmt.Fprintf(w, "  %d alloc runs stopped at the memory limit; %d alloc and fork runs timed out first, their worker short of CPU\n",
		r.MemoryLimited, r.TimedOutFirst)
	fmt.Fprintf(w, "  process pool's workers: %v\n", r.Workers)
	var busy time.Duration
	var kinds []string
	for _, kind := range toxicKinds {
		if d, ok := r.ToxicBusy[kind]; ok {
			busy += d
			kinds = append(kinds, fmt.Sprintf("%s %v", kind, d.Round(time.Millisecond)))
		}
	}
	fmt.Fprintf(w, "  toxic runs held a worker %v in all, from their last attempt's start to their end (%s)\n",
		busy.Round(time.Millisecond), strings.Join(kinds, ", "))
	fmt.Fprintf(w, "  settle: %v, once the faults stopped, for what was unfinished: %s; meanwhile %d workers replaced, their slots %v starting them\n",
		r.Settle.Round(time.Millisecond), r.Backlog, r.SettleWorkers.Restarts, r.SettleWorkers.Starting.Round(time.Millisecond))
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "  every check passed: no run lost, none stuck, every good run succeeded once, both pools serve, nothing leaked")
		return
	}
	printProblems(w, r.Problems, r.Seed)
}

// printProblems writes a report's problems, the first 20 of them, and how
// to replay the run.
func printProblems(w io.Writer, problems []string, seed uint64) {
	fmt.Fprintf(w, "  %d PROBLEMS:\n", len(problems))
	for i, p := range problems {
		if i == 20 {
			fmt.Fprintf(w, "  … and %d more\n", len(problems)-i)
			break
		}
		fmt.Fprintln(w, "  -", p)
	}
	fmt.Fprintf(w, "  replay with: cd chaos && go run . -seed %d\n", seed)
}

// childGrace bounds the wait for a task's child to be gone once the pools
// are closed: SIGKILL was sent to it before its worker was reaped.
const childGrace = 10 * time.Second

// checkChildren checks that every child process the orphan task started
// (its ledger's child.<pid> files) is gone: it died with its worker's
// process group. It returns how many it checked.
func (c *chaos) checkChildren(problem func(string, ...any)) int {
	files, err := filepath.Glob(filepath.Join(c.cfg.Ledger, "child.*"))
	if err != nil {
		problem("listing the tasks' children: %v", err)
		return 0
	}
	for _, f := range files {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), "."))
		if err != nil {
			problem("a bad child file %s", f)
			continue
		}
		if err := waitGone(pid, childGrace); err != nil {
			problem("a task's child process %d outlived its worker: %v", pid, err)
		}
	}
	return len(files)
}
