package sqlitejournal_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// crashChildEnv, set to a journal's path, makes the test binary commit
// batches to it until it is killed (crashChild).
const crashChildEnv = "SQLITEJOURNAL_CRASH_CHILD"

// The batches of the crash test: batch i writes crashRuns runs of about
// crashArgs bytes, deletes the runs of batch i-crashKeep, puts the strike
// of batch i and lifts that of batch i-1. Each batch spans many pages, so
// that a kill can come in the middle of writing one.
const (
	crashRuns = 40
	crashArgs = 2000
	crashKeep = 5
)

// crashBatch returns batch i of the crash test.
func crashBatch(i int) localtasks.JournalBatch {
	var b localtasks.JournalBatch
	for k := range crashRuns {
		b.Runs = append(b.Runs, localtasks.JournalRun{
			ID:         crashRunID(i, k),
			Task:       "crash",
			Status:     localtasks.StatusReady,
			Attempts:   i,
			EnqueuedAt: time.Unix(0, int64(i)),
			Args:       make([]byte, crashArgs+k),
		})
	}
	if i >= crashKeep {
		for k := range crashRuns {
			b.Deleted = append(b.Deleted, crashRunID(i-crashKeep, k))
		}
	}
	b.Strikes = append(b.Strikes, localtasks.JournalStrike{Key: crashStrike(i), Data: []byte(strconv.Itoa(i))})
	if i > 0 {
		b.Strikes = append(b.Strikes, localtasks.JournalStrike{Key: crashStrike(i - 1), Lifted: true})
	}
	return b
}

func crashRunID(batch, k int) string { return fmt.Sprintf("b%06d-r%02d", batch, k) }
func crashStrike(batch int) string   { return fmt.Sprintf("s%06d", batch) }

// crashChild commits crashBatch(0), crashBatch(1), ... to the journal at
// path, and after each Commit returns writes the batch's number as a line
// to file descriptor 3, until it is killed.
func crashChild(path string) {
	acks := os.NewFile(3, "acks")
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	j, err := sqlitejournal.Open(path)
	if err != nil {
		fail(err)
	}
	if _, err := j.Open(context.Background(), "crash", 1); err != nil {
		fail(err)
	}
	for i := 0; ; i++ {
		b := crashBatch(i)
		if err := j.Commit(context.Background(), &b); err != nil {
			fail(err)
		}
		if _, err := fmt.Fprintln(acks, i); err != nil {
			fail(err)
		}
	}
}

// TestCrash kills a process that commits batches, at a random moment, and
// checks that the journal holds exactly the batches before some point:
// every batch whose Commit returned, maybe the one under way, and nothing
// of a batch in part.
func TestCrash(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	require.NoError(t, err)
	for round := range 3 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			acked := runCrashChild(t, exe, path, 1+rand.IntN(40))

			j := openJournal(t, path)
			format, err := j.Open(t.Context(), "crash", 2)
			require.NoError(t, err)
			require.Equal(t, 1, format)
			got := load(t, j)
			last := lastBatch(got)
			t.Logf("acknowledged batch %d, the journal holds up to batch %d", acked, last)
			require.GreaterOrEqual(t, last, acked, "every acknowledged batch is there")
			require.LessOrEqual(t, last, acked+1, "at most the batch under way is there too")
			requireBatches(t, got, last)

			// The journal goes on from there.
			b := crashBatch(last + 1)
			commit(t, j, b)
			requireBatches(t, load(t, j), last+1)
		})
	}
}

// runCrashChild starts crashChild on path, kills it at a random moment after
// it has acknowledged kill batches, reaps it, and returns the last batch it
// acknowledged (-1 for none).
func runCrashChild(t *testing.T, exe, path string, kill int) int {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd := exec.Command(exe, "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	w.Close() // the child's copy stays: EOF comes when it is gone

	acked := -1
	lines := bufio.NewScanner(r)
	killed := false
	for lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		require.NoError(t, err)
		require.Equal(t, acked+1, n)
		acked = n
		if n+1 == kill && !killed {
			// A random moment within the next commit or so, which takes
			// from a few milliseconds to some tens: the timer picks the
			// moment, it waits for nothing.
			<-time.After(time.Duration(rand.Int64N(int64(20 * time.Millisecond))))
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	require.NoError(t, lines.Err())
	err = cmd.Wait()
	require.True(t, killed, "the child ended by itself: %v", err)
	status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && status.Signaled() && status.Signal() == syscall.SIGKILL, "the child ended with %v", err)
	return acked
}

// lastBatch returns the number of the last batch got holds, by its strike,
// or -1 if it holds none.
func lastBatch(got contents) int {
	last := -1
	for _, data := range got.strikes {
		n, _ := strconv.Atoi(string(data))
		last = max(last, n)
	}
	return last
}

// requireBatches requires got to be exactly what batches 0 to last leave.
func requireBatches(t *testing.T, got contents, last int) {
	t.Helper()
	want := map[string]localtasks.JournalRun{}
	for i := max(0, last-crashKeep+1); i <= last; i++ {
		for _, r := range crashBatch(i).Runs {
			want[r.ID] = r
		}
	}
	require.Len(t, got.runs, len(want))
	for id, r := range want {
		requireSameRun(t, r, got.runs[id])
	}
	if last < 0 {
		require.Empty(t, got.strikes)
		return
	}
	require.Equal(t, map[string][]byte{crashStrike(last): []byte(strconv.Itoa(last))}, got.strikes)
}
