package sqlitejournal_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// The restart tests kill a program in the middle of a load of runs on a
// pool with a SQLite journal, start the pool again on the journal, and
// check that nothing acknowledged was lost and that what ran twice is what
// may: a run that was running when the program died.

// restartChildEnv, set to a JSON restartSpec, makes the test binary the
// first program of a restart test (restartChild).
const restartChildEnv = "SQLITEJOURNAL_RESTART_CHILD"

// programEnv is set to "first" in the first program, and inherited by its
// process-pool workers: the send task writes it into the ledger, so that
// the test tells the attempts of the program it killed from those of the
// one after it.
const programEnv = "SQLITEJOURNAL_RESTART_PROGRAM"

// The load: restartGoroutines goroutines enqueue restartRuns runs each.
const (
	restartGoroutines = 4
	restartRuns       = 75
)

// restartSpec is what the first program is to do.
type restartSpec struct {
	Kind string // "threadpool" or "procpool"
	Name string // the backend's Name, which claims the journal
	Dir  string // the journal, outbox and ledger are in it
}

// sendArgs is a message to send.
type sendArgs struct {
	Dir string // holds outbox/, where each message sent is a file, and ledger
	Key string // the message's key: its file's name in outbox/
}

// send "sends" a message, at least once and with effect at most once: it
// creates the message's file in the outbox, named by its key, which fails
// if the file exists: the message was sent already, by an earlier attempt.
// Every attempt first appends a line to the ledger (its run's ID and its
// program), so that re-executions show.
var send = localtasks.Define("sqlitejournal-test.send", func(ctx context.Context, a sendArgs) (string, error) {
	id := localtasks.TaskID(ctx)
	ledger, err := os.OpenFile(filepath.Join(a.Dir, "ledger"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	// One write of a short line: whole in the file, whatever the other
	// attempts do at the same time.
	_, err = fmt.Fprintf(ledger, "%s %s %s\n", id, a.Key, cmp.Or(os.Getenv(programEnv), "second"))
	if cerr := ledger.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(a.Dir, "outbox", a.Key), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return "already sent", nil
	}
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(id)
	if err == nil {
		err = f.Sync() // a send takes a while, as a real one does
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return "sent", nil
})

// tick is an automatic perpetual task that does nothing, once an hour.
var tick = localtasks.Define("sqlitejournal-test.tick", func(ctx context.Context, n int) (int, error) { return n, nil },
	localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour, Automatic: true}))

// The first program's run held by its key, far in the future, and its
// strike, on messages that the load never sends.
const heldKey = "held"

var struck = localtasks.Strike{Task: send.Name(), Field: "Key", Op: localtasks.OpEqual, Value: "struck"}

// newRestartBackend builds the pool of both programs of a restart test:
// JournalDurable, and the automatic tick.
func newRestartBackend(kind, name string, j localtasks.Journal) (localtasks.Controller, error) {
	cfg := localtasks.Config{Name: name, Journal: j, JournalMode: localtasks.JournalDurable, Automatic: []string{tick.Name()}}
	if kind == "procpool" {
		return localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: cfg, MaxWorkers: 2})
	}
	return localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg, MaxWorkers: 4})
}

// restartChild is the first program: it builds the pool on the journal,
// enqueues the held run and puts the strike in force, then enqueues the
// load from several goroutines, writing a line to stdout after each
// Enqueue returns: "held ID", then "ack ID KEY" for each run of the load.
// Then it waits for its stdin to end: the test kills it before.
func restartChild(specJSON string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "restart child:", err)
		os.Exit(2)
	}
	var spec restartSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fail(err)
	}
	j, err := sqlitejournal.Open(filepath.Join(spec.Dir, "journal.db"))
	if err != nil {
		fail(err)
	}
	b, err := newRestartBackend(spec.Kind, spec.Name, j)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	h, err := send.Using(localtasks.WithKey(heldKey), localtasks.WithDelay(24*time.Hour)).Enqueue(ctx, b, sendArgs{Dir: spec.Dir, Key: heldKey})
	if err != nil {
		fail(err)
	}
	fmt.Println("held", h.ID())
	// Strike does not wait for the journal, but the first run of the load
	// does, and its commit is this one or a later one: the strike is on
	// disk once a run of the load is acknowledged.
	if err := b.Strike(struck); err != nil {
		fail(err)
	}
	var wg sync.WaitGroup
	for g := range restartGoroutines {
		wg.Go(func() {
			for i := range restartRuns {
				key := fmt.Sprintf("m%d-%03d", g, i)
				h, err := send.Enqueue(ctx, b, sendArgs{Dir: spec.Dir, Key: key})
				if err != nil {
					fail(err)
				}
				// One write a line, whole in the pipe.
				fmt.Printf("ack %s %s\n", h.ID(), key)
			}
		})
	}
	wg.Wait()
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

func TestRestartThreadPool(t *testing.T) {
	t.Parallel()
	testRestart(t, "threadpool")
}

func TestRestartProcessPool(t *testing.T) {
	t.Parallel()
	testRestart(t, "procpool")
}

// testRestart kills the first program of kind after a random number of
// acknowledgements, then starts the pool again on its journal, in this
// process, and checks what it holds and does; three times, at three kill
// points.
func testRestart(t *testing.T, kind string) {
	exe, err := os.Executable()
	require.NoError(t, err)
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			spec := restartSpec{Kind: kind, Name: kind + " " + t.Name(), Dir: t.TempDir()}
			require.NoError(t, os.Mkdir(filepath.Join(spec.Dir, "outbox"), 0o755))
			kill := 1 + rand.IntN(restartGoroutines*restartRuns*3/4)
			first := runRestartChild(t, exe, spec, kill)

			// What the journal holds, read before a backend opens it: the
			// runs on disk at the kill.
			path := filepath.Join(spec.Dir, "journal.db")
			onDisk := loadRuns(t, path, spec.Name)

			j := openJournal(t, path)
			b, err := newRestartBackend(kind, spec.Name, j)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) }) // before the journal's
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()

			// Every acknowledged run was on disk, and ends SUCCESSFUL,
			// readable by its ID; so do the runs on disk that were not
			// acknowledged yet, but for the held one.
			for id, key := range first.acks {
				require.Contains(t, onDisk, id, "acknowledged run %s is not in the journal", id)
				require.Equal(t, send.Name(), onDisk[id].Task)
				h, err := send.GetResult(ctx, b, id)
				require.NoError(t, err)
				res, err := h.Result(ctx)
				require.NoError(t, err)
				require.Equal(t, sendArgs{Dir: spec.Dir, Key: key}, res.Args)
			}
			var runs []localtasks.TaskResult
			for id, r := range onDisk {
				if r.Task != send.Name() || id == first.held {
					continue
				}
				res, err := b.Wait(ctx, id)
				require.NoError(t, err)
				require.Equal(t, localtasks.StatusSuccessful, res.Status, "run %s: %v", id, res.Errors)
				res, err = b.GetResult(ctx, id)
				require.NoError(t, err)
				runs = append(runs, res)
			}
			// The snapshot lists the same runs.
			listed := listRuns(t, ctx, b, send.Name(), localtasks.StatusSuccessful, localtasks.StatusFailed, localtasks.StatusCancelled)
			require.ElementsMatch(t, ids(runs), ids(listed), "the finished runs listed are those of the journal")
			ledger := readLedger(t, spec.Dir)

			// Each message was sent once: one file, written by its run, or
			// left empty by an attempt the kill cut short after it made the
			// file; and each run ran at most once in each program, and in
			// both only if it was running when the first was killed.
			sent := map[string]bool{}
			var again, twice, unrecorded, interrupted int
			for _, res := range runs {
				require.Equal(t, localtasks.StatusSuccessful, res.Status, "run %s: %v", res.ID, res.Errors)
				key := res.Args.(sendArgs).Key
				require.False(t, sent[key], "two runs of message %s", key)
				sent[key] = true
				body, err := os.ReadFile(filepath.Join(spec.Dir, "outbox", key))
				require.NoError(t, err, "message %s of run %s was not sent", key, res.ID)
				lines := ledger[res.ID].lines
				require.LessOrEqual(t, lines["first"], 1, "run %s ran twice in the first program", res.ID)
				require.LessOrEqual(t, lines["second"], 1, "run %s ran twice after the restart", res.ID)
				require.Equal(t, 1, res.Attempts-len(res.Errors), "run %s: one attempt succeeded", res.ID)
				for _, e := range res.Errors {
					require.Contains(t, e.Message, "interrupted by a restart", "run %s", res.ID)
				}
				if len(res.Errors) > 0 {
					interrupted++
					require.Equal(t, 1, lines["second"], "run %s, interrupted, ran again after the restart", res.ID)
				}
				if lines["second"] == 0 {
					require.Equal(t, 1, lines["first"], "run %s ran in neither program", res.ID)
					require.Equal(t, "sent", res.Value, "run %s", res.ID)
					require.Equal(t, res.ID, string(body), "run %s", res.ID)
					continue
				}
				again++
				if lines["first"] == 0 {
					require.Equal(t, "sent", res.Value, "run %s", res.ID)
					require.Equal(t, res.ID, string(body), "run %s", res.ID)
					continue
				}
				// Both programs ran it: the first was killed while (or
				// just after) it ran, before its end was on disk; and if
				// before its start was, its result does not say it ran
				// twice.
				twice++
				if len(res.Errors) == 0 {
					unrecorded++
				}
				if res.Value == "sent" {
					require.Equal(t, res.ID, string(body), "run %s", res.ID)
				} else {
					require.Equal(t, "already sent", res.Value, "run %s", res.ID)
					require.Contains(t, []string{"", res.ID}, string(body), "run %s", res.ID)
				}
			}
			// Runs that are not on disk ran too: an Enqueue under way
			// queues its run before its commit, and a worker may run it
			// then; the kill lost them with their commit. Only an Enqueue
			// that had not returned, one a goroutine at most.
			acked := map[string]bool{}
			for _, key := range first.acks {
				acked[key] = true
			}
			lost := map[string]bool{}
			for id, e := range ledger {
				if slices.ContainsFunc(runs, func(r localtasks.TaskResult) bool { return r.ID == id }) {
					continue
				}
				require.Equal(t, map[string]int{"first": 1}, e.lines, "run %s, not on disk, ran once in the first program", id)
				require.False(t, acked[e.key], "run %s of message %s was acknowledged", id, e.key)
				lost[e.key] = true
			}
			require.LessOrEqual(t, len(lost), restartGoroutines, "runs of unacknowledged enqueues ran: %v", lost)
			files, err := os.ReadDir(filepath.Join(spec.Dir, "outbox"))
			require.NoError(t, err)
			for _, f := range files {
				require.True(t, sent[f.Name()] || lost[f.Name()], "message %s was sent by no run", f.Name())
			}
			t.Logf("killed after %d acknowledgements (%d read): %d runs on disk, %d ran after the restart, %d of them interrupted by it, %d ran in both programs (%d of them with no error of the first attempt); "+
				"%d ran in the first program but were lost with their unacknowledged enqueue",
				kill, len(first.acks), len(runs), again, interrupted, twice, unrecorded, len(lost))

			// The held run is still held by its key.
			h, err := send.Using(localtasks.WithKey(heldKey), localtasks.WithDelay(24*time.Hour)).Enqueue(ctx, b, sendArgs{Dir: spec.Dir, Key: "held again"})
			require.NoError(t, err)
			require.Equal(t, localtasks.AlreadyEnqueued, h.Disposition())
			require.Equal(t, first.held, h.ID())
			res, err := b.GetResult(ctx, first.held)
			require.NoError(t, err)
			require.Equal(t, localtasks.StatusScheduled, res.Status)

			// The strike is in force.
			require.Equal(t, []localtasks.Strike{struck}, b.Strikes())
			h, err = send.Enqueue(ctx, b, sendArgs{Dir: spec.Dir, Key: "struck"})
			require.NoError(t, err)
			require.Equal(t, localtasks.Struck, h.Disposition())

			// One chain of the automatic task goes on: the restart's
			// Automatic found it, and started no other.
			require.Len(t, listRuns(t, ctx, b, tick.Name(), localtasks.StatusReady, localtasks.StatusScheduled, localtasks.StatusRunning), 1)
		})
	}
}

// firstProgram is what the first program acknowledged: its held run, and
// the runs of its load (ID to key).
type firstProgram struct {
	held string
	acks map[string]string
}

// runRestartChild runs the first program, kills it with SIGKILL once it
// has acknowledged kill runs of its load, reaps it, and returns what it
// acknowledged before it died.
func runRestartChild(t *testing.T, exe string, spec restartSpec, kill int) firstProgram {
	t.Helper()
	specJSON, err := json.Marshal(spec)
	require.NoError(t, err)
	// The deadline kills a child that stalls; it is not the kill tested.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+string(specJSON), programEnv+"=first")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // held open: the child waits on it once its load is enqueued
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	first := firstProgram{acks: map[string]string{}}
	killed := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) == 2 && f[0] == "held":
			first.held = f[1]
		case len(f) == 3 && f[0] == "ack":
			first.acks[f[1]] = f[2]
		default:
			t.Errorf("the child wrote %q", lines.Text())
		}
		if len(first.acks) == kill && !killed {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	require.NoError(t, lines.Err())
	err = cmd.Wait()
	require.True(t, killed, "the child ended before its %d acknowledgement: %v\n%s", kill, err, stderr.Bytes())
	status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && status.Signaled() && status.Signal() == syscall.SIGKILL, "the child ended with %v\n%s", err, stderr.Bytes())
	require.NotEmpty(t, first.held)
	return first
}

// loadRuns reads the runs of the journal at path, claimed by backend, and
// closes it.
func loadRuns(t *testing.T, path, backend string) map[string]localtasks.JournalRun {
	t.Helper()
	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)
	defer j.Close()
	_, err = j.Open(t.Context(), backend, localtasks.JournalFormat)
	require.NoError(t, err)
	runs := map[string]localtasks.JournalRun{}
	err = j.Load(t.Context(), func(r *localtasks.JournalRun) error {
		runs[r.ID] = *r
		return nil
	}, func(*localtasks.JournalStrike) error { return nil })
	require.NoError(t, err)
	return runs
}

func ids(runs []localtasks.TaskResult) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// listRuns lists the runs of the task with one of the statuses.
func listRuns(t *testing.T, ctx context.Context, b localtasks.Controller, task string, statuses ...localtasks.Status) []localtasks.TaskResult {
	t.Helper()
	var runs []localtasks.TaskResult
	opts := localtasks.SnapshotOptions{Task: task, Statuses: statuses, Limit: localtasks.SnapshotLimitMax}
	for {
		s, err := b.Snapshot(ctx, opts)
		require.NoError(t, err)
		runs = append(runs, s.Queued...)
		runs = append(runs, s.Scheduled...)
		runs = append(runs, s.Running...)
		runs = append(runs, s.Finished...)
		if s.NextCursor == "" {
			return runs
		}
		opts.Cursor = s.NextCursor
	}
}

// attempts are a run's lines in the ledger: its message's key, and how many
// attempts each program made.
type attempts struct {
	key   string
	lines map[string]int
}

// readLedger reads the ledger, by run ID.
func readLedger(t *testing.T, dir string) map[string]attempts {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "ledger"))
	require.NoError(t, err)
	ledger := map[string]attempts{}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		require.Len(t, f, 3, "ledger line %q", line)
		e, ok := ledger[f[0]]
		if !ok {
			e = attempts{key: f[1], lines: map[string]int{}}
			ledger[f[0]] = e
		}
		require.Equal(t, e.key, f[1], "ledger line %q", line)
		e.lines[f[2]]++
	}
	return ledger
}
