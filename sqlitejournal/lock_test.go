package sqlitejournal_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// lockChildEnv, set to a journal's path, makes the test binary open the
// journal, write "open" to stdout, and hold it until its stdin ends
// (lockChild).
const lockChildEnv = "SQLITEJOURNAL_LOCK_CHILD"

func lockChild(path string) {
	j, err := sqlitejournal.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		os.Exit(2)
	}
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin)
	if err := j.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// A second Open of a journal in the same process fails at once, while the
// first is open, and succeeds once it is closed.
func TestOpenLockedInProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)

	// By another path to the same file too.
	other := filepath.Join(filepath.Dir(path), ".", "journal.db")
	_, err = sqlitejournal.Open(other)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.ErrorContains(t, err, "is in use by this program")

	_, err = sqlitejournal.Open(path)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.EqualError(t, err, "sqlitejournal: "+path+" is in use by this program, which opened it already and has not closed it: "+
		"a journal serves one backend at a time, as two would run the same runs: share the open Journal, or Close it first: journal failed")

	require.NoError(t, j.Close())
	openJournal(t, path)
}

// An Open fails at once while another process has the journal open, and
// names that process; it succeeds once that process has closed it.
func TestOpenLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestOpenLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the child did not open the journal")
	require.Equal(t, "open\n", line)

	_, err = sqlitejournal.Open(path)
	require.ErrorIs(t, err, localtasks.ErrJournal)
	require.EqualError(t, err, "sqlitejournal: "+path+" is in use by another program (process "+strconv.Itoa(cmd.Process.Pid)+"), which holds the lock "+path+".lock: "+
		"a journal serves one program at a time, as two would run the same runs: stop that program first, or give this one another journal file: journal failed")

	require.NoError(t, stdin.Close())
	waited = true
	require.NoError(t, cmd.Wait())
	openJournal(t, path)
}

// A Close releases the lock at once, though the program starts processes
// at the same time, each of which holds a copy of the program's descriptors
// from its fork to its exec (an flock on one would outlive the Close for
// that while): the next Open succeeds.
func TestCloseReleasesWhileStartingProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.db")
	stop := make(chan struct{})
	var starts sync.WaitGroup
	for range 2 {
		starts.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cmd := exec.Command("true")
				if err := cmd.Run(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer starts.Wait()
	defer close(stop)
	for range 100 {
		j, err := sqlitejournal.Open(path)
		require.NoError(t, err)
		require.NoError(t, j.Close())
	}
}
