// Command durable shows a localtasks journal at work: queued runs and
// results outlive the program that enqueued them, even one killed with
// SIGKILL.
//
// It runs itself twice on one journal, a SQLite file. The first program
// enqueues five sends on a thread pool with one worker, printing each run's
// ID; once the third send runs, it enqueues a sixth, and is killed while
// the third still runs. The second program opens the same journal, resumes
// the runs, and prints each by its ID: the first two finished before the
// kill, the third ran again (its result keeps the interrupted attempt as an
// error), the others ran only after the restart.
//
//	cd example/durable && go run .
//	go run . -db tasks.db   # keep the journal, to look inside:
//	sqlite3 tasks.db "SELECT id, status, attempts FROM runs"
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// send "sends" a message: it takes a while, as a real send does, long
// enough for the kill to find one running.
var send = localtasks.Define("durable.send", func(ctx context.Context, to string) (string, error) {
	select {
	case <-time.After(300 * time.Millisecond):
		return "sent to " + to, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
})

// firstEnv, set to the journal's path, makes the program the first one.
const firstEnv = "DURABLE_FIRST_PROGRAM"

func main() {
	db := flag.String("db", "", "the journal `file` (default: one in a temporary directory, removed at the end)")
	flag.Parse()
	var err error
	if path, ok := os.LookupEnv(firstEnv); ok {
		err = first(os.Stdout, path)
	} else {
		err = run(os.Stdout, *db)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// openPool opens the journal at path, and the pool on it.
func openPool(path string) (*sqlitejournal.Journal, *localtasks.ThreadPoolBackend, error) {
	j, err := sqlitejournal.Open(path)
	if err != nil {
		return nil, nil, err
	}
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Name: "durable", Journal: j}})
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	return j, pool, nil
}

// run runs the first program, kills it, and then is the second program.
func run(w io.Writer, path string) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "durable")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "tasks.db")
	}
	fmt.Fprintf(w, "journal: %s\nfirst program:\n", path)
	ids, err := runFirst(w, path)
	if err != nil {
		return err
	}

	fmt.Fprintln(w, "second program, on the same journal:")
	j, pool, err := openPool(path)
	if err != nil {
		return err
	}
	defer j.Close()
	ctx := context.Background()
	defer pool.Close(ctx) // before the journal's Close
	for _, id := range ids {
		res, err := pool.Wait(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s  %v  %-20v attempts: %d", id[:8], res.Status, res.Value, res.Attempts)
		for _, e := range res.Errors {
			fmt.Fprintf(w, " (ran again: attempt %d %s)", e.Attempt, e.Message)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// runFirst starts this program as the first one, copies what it prints to
// w, kills it with SIGKILL once it says it is ready to die (it closes its
// stdout), and returns the IDs it printed.
func runFirst(w io.Writer, path string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), firstEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the first program waits on it to be killed
	if err != nil {
		return nil, err
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var ids []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		fmt.Fprintln(w, "  "+lines.Text())
		if id, ok := strings.CutPrefix(lines.Text(), "enqueued "); ok {
			ids = append(ids, strings.Fields(id)[0])
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || st.Signal() != syscall.SIGKILL {
		return nil, fmt.Errorf("the first program ended by itself: %v", cmd.ProcessState)
	}
	fmt.Fprintf(w, "  killed with SIGKILL\n")
	return ids, nil
}

// first is the first program: it enqueues the sends, the sixth once the
// third runs, and closes its stdout to be killed. Each Enqueue returns once
// the journal holds its run, and the sixth's, that the third started.
func first(w io.Writer, path string) error {
	_, pool, err := openPool(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	sub := pool.Subscribe(64)
	var ids []string
	for i := 1; i <= 6; i++ {
		if i == 6 {
			for ev := range sub.C() {
				if ev.Kind == localtasks.EventStarted && ev.Result.ID == ids[2] {
					break
				}
			}
			fmt.Fprintf(w, "%s is running; enqueuing one more\n", ids[2][:8])
		}
		h, err := send.Enqueue(ctx, pool, fmt.Sprintf("customer-%d", i))
		if err != nil {
			return err
		}
		ids = append(ids, h.ID())
		fmt.Fprintf(w, "enqueued %s  send to customer-%d\n", h.ID(), i)
	}
	os.Stdout.Close()
	io.Copy(io.Discard, os.Stdin)
	return errors.New("the first program was not killed")
}
