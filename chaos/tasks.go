package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/localtasks/localtasks"
)

// GoodArgs is the argument of the good tasks.
type GoodArgs struct {
	Ledger string        // the directory the runs record their executions in
	Work   time.Duration // how long an execution takes
	Fail   float64       // the chance that an execution fails, to be retried
}

// goodRetryMaxDelay is the longest a good run waits before its retry.
const goodRetryMaxDelay = 20 * time.Millisecond

// The good tasks retry until they succeed. Each execution appends a line
// to <ledger>/<id>.exec; the one that succeeds creates <id>.ok, holding its
// attempt number, atomically and exclusively. A run whose success was recorded there but
// not heard of by the parent (its worker was killed in between) is tried
// again by the backend: it finds <id>.ok and returns what it holds, without
// doing the work twice. That is the idempotent task that docs/reliability.md
// recommends, and it is what makes "exactly one successful execution"
// checkable: <id>.ok is made once, or the run lost its work.
var (
	goodRetry = localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 10_000, Delay: time.Millisecond, MaxDelay: goodRetryMaxDelay, Multiplier: 2})
	good      = localtasks.Define("chaos.good", runGood, goodRetry)
	// victim is a good task that the chaos strikes and restores.
	victim = localtasks.Define("chaos.victim", runGood, goodRetry)
)

func runGood(ctx context.Context, a GoodArgs) (int, error) {
	id, attempt := localtasks.TaskID(ctx), localtasks.Attempt(ctx)
	ok := filepath.Join(a.Ledger, id+".ok")
	if v, err := readOK(ok); err == nil {
		return v, appendLine(filepath.Join(a.Ledger, id+".exec"), fmt.Sprintf("replay %d %d\n", attempt, os.Getpid()))
	}
	if err := appendLine(filepath.Join(a.Ledger, id+".exec"), fmt.Sprintf("exec %d %d\n", attempt, os.Getpid())); err != nil {
		return 0, err
	}
	t := time.NewTimer(a.Work)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if rand.Float64() < a.Fail {
		return 0, errors.New("a transient failure, to be retried")
	}
	// The success is written whole to a file of this attempt, then linked
	// to <id>.ok, which fails if it exists: a kill midway leaves no
	// half-written success behind.
	tmp := fmt.Sprintf("%s.%d.%d", ok, attempt, os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(attempt)), 0o644); err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, ok); errors.Is(err, os.ErrExist) {
		return readOK(ok) // an attempt of this run that was thought lost succeeded meanwhile
	} else if err != nil {
		return 0, err
	}
	return attempt, nil
}

func readOK(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The toxic kinds, and the toxic task.
const (
	toxicExit   = "exit"   // os.Exit in the worker
	toxicPanic  = "panic"  // a panic
	toxicLoop   = "loop"   // a loop that ignores its ctx, past its timeout
	toxicAlloc  = "alloc"  // memory past the pool's limit
	toxicOrphan = "orphan" // a child process that outlives its task, which waits for it past its timeout (the orphan task)
	toxicFork   = "fork"   // a child process left running by a task that succeeds (the orphan task)
)

var toxicKinds = []string{toxicExit, toxicPanic, toxicLoop, toxicAlloc, toxicOrphan, toxicFork}

// toxicTimeout bounds every toxic run; the loop outlives it. The alloc
// kind has longer, to reach the memory limit first even under -race.
const (
	toxicTimeout      = 500 * time.Millisecond
	toxicAllocTimeout = 20 * time.Second
)

var toxic = localtasks.Define("chaos.toxic", func(ctx context.Context, kind string) (int, error) {
	switch kind {
	case toxicExit:
		os.Exit(3)
	case toxicPanic:
		panic("chaos: a toxic panic")
	case toxicLoop:
		for n := 0; ; n++ { // ignores ctx: the pool kills the worker after its grace
			if n == -1 {
				return n, nil
			}
		}
	case toxicAlloc:
		var hold [][]byte
		for {
			b := make([]byte, 32<<20)
			for i := 0; i < len(b); i += 4096 { // every page, so that it counts
				b[i] = byte(i)
			}
			hold = append(hold, b)
			if ctx.Err() != nil {
				return len(hold), ctx.Err()
			}
		}
	}
	return 0, fmt.Errorf("unknown toxic kind %q", kind)
}, localtasks.WithTimeout(toxicTimeout))

// OrphanArgs is the argument of the orphan task.
type OrphanArgs struct {
	Ledger string // where it records its child's PID, as the file child.<pid>
	Wait   bool   // wait for the child, ignoring the ctx, past the timeout; or succeed at once, leaving it running
}

// orphan starts a child process that outlives it: a worker's process group
// dies with the worker, so the child must be gone once its worker is, and
// the child must not hold the worker's pipes meanwhile (it did: the parent,
// waiting for EOF on them, never learnt of the worker's death, and the run,
// its slot and Close were stuck).
var orphan = localtasks.Define("chaos.orphan", func(ctx context.Context, a OrphanArgs) (int, error) {
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(a.Ledger, fmt.Sprintf("child.%d", pid)), nil, 0o644); err != nil {
		return 0, err
	}
	if a.Wait {
		return pid, cmd.Wait() // ignores ctx: the pool kills the worker, and its group, after the grace
	}
	return pid, nil
}, localtasks.WithTimeout(toxicTimeout))
