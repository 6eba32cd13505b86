package localtasks

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/localtasks/localtasks/internal/child"
)

// What starting a worker process needs beyond spawn (procworker.go): its
// environment, and the error that says why one did not start.

// workerEnv returns env, the worker's environment, for a worker built with
// -race (race) with the race detector's sleep at exit turned off, unless
// GORACE sets it already. That sleep, the race runtime's atexit_sleep_ms
// (1000 ms by default), made every worker that exits (at Close, or
// recycled by MaxTasksPerWorker) take a second more to end under -race,
// and so each Close of a pool, which waits for its workers to exit: 1.003 s
// against under 2 ms without it. It only gives races in exit-time code
// time to show, and a worker runs none but the runtime's. A race found in
// a worker is still reported, on its stderr, which the parent logs.
func workerEnv(env []string, race bool) []string {
	if !race {
		return env
	}
	gorace := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GORACE="); ok {
			gorace = v // the last one counts, as for os/exec
		}
	}
	if strings.Contains(gorace, "atexit_sleep_ms") {
		return env
	}
	return append(env, "GORACE="+strings.TrimSpace(gorace+" atexit_sleep_ms=0"))
}

// helloError: the worker sent something, and not the hello it should.
type helloError struct{ what string }

func (e *helloError) Error() string { return e.what }

// startError says why the worker did not start serving: from hello's
// error (nil if it said nothing), its exit state (nil if unknown), and
// whether the parent gave up waiting or closed the pool. It advises to
// call Init only where a missing Init is the likely cause: a program that
// ran and exited cleanly, or kept running, without ever serving.
func (w *procWorker) startError(hello error, state *os.ProcessState, timedOut, closed bool) error {
	exe, pid, tail := w.p.exe, w.pid, w.tailText()
	const addInit = "A program that uses a ProcessPoolBackend must call localtasks.Init() as the first statement " +
		"of main (and of TestMain in tests): the pool re-executes the program's binary as its workers, " +
		"and Init is where a worker starts serving"
	var he *helloError
	var ie *WorkerInitError
	code := -2 // unknown
	if state != nil {
		code = state.ExitCode()
	}
	reach, during := "reach Init", "" // what a start goes through
	if name := initName(w.p.cfg.WorkerInit); name != "" {
		reach = fmt.Sprintf("reach Init and run its worker initialiser %q", name)
		during = fmt.Sprintf(" (or while it ran its worker initialiser %q, after Init)", name)
	}
	switch {
	case closed:
		return fmt.Errorf("localtasks: worker process %s (pid %d) was being started when the pool was closed: %w", exe, pid, ErrClosed)
	case errors.As(hello, &ie):
		ie.Stderr = tail // what it wrote while it started, its initialiser's output among it
		return ie
	case errors.As(hello, &he):
		return fmt.Errorf("localtasks: worker process %s (pid %d) did not start serving: %v%s", exe, pid, he, tail)
	case code == child.ExitSettings:
		return fmt.Errorf("localtasks: worker process %s (pid %d) could not apply the pool's settings to itself%s: "+
			"check ProcessPoolConfig.Nice, and the limits the system puts on this program (ulimit -e, RLIMIT_NICE)", exe, pid, tail)
	case code == child.ExitFailed:
		return fmt.Errorf("localtasks: worker process %s (pid %d) reached localtasks.Init() but could not start serving%s", exe, pid, tail)
	case timedOut:
		return fmt.Errorf("localtasks: worker process %s (pid %d) did not start serving within %v (ProcessPoolConfig.StartTimeout), "+
			"and was killed. If the program takes that long to %s, raise StartTimeout; otherwise it runs without calling Init. %s%s",
			exe, pid, w.p.cfg.StartTimeout, reach, addInit, tail)
	case state == nil:
		return fmt.Errorf("localtasks: worker process %s (pid %d) did not start serving (%v), and its exit status is unknown%s", exe, pid, hello, tail)
	case code == 0:
		return fmt.Errorf("localtasks: worker process %s (pid %d) ran and exited with status 0 without serving: "+
			"it never called localtasks.Init(), or returned before it. %s%s", exe, pid, addInit, tail)
	case code == -1:
		return fmt.Errorf("localtasks: worker process %s (pid %d) crashed before it started serving%s (%v)%s", exe, pid, during, state, tail)
	}
	return fmt.Errorf("localtasks: worker process %s (pid %d) exited with code %d before it started serving%s: "+
		"its stderr may say why (a panic in an init function exits with 2, log.Fatal with 1, a bad flag with 2); "+
		"the program must reach localtasks.Init(), first in main, for its workers to serve%s", exe, pid, code, during, tail)
}
