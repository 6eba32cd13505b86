// Package testkit holds what the tests of several modules of this
// repository (the library, e2e, example/distributed) need alike: a buffer
// safe for concurrent writes, a writer that catches a process's first line,
// and a build of a program with -race when the test runs with it.
package testkit

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: a process's
// output, a logger's.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// LineCatcher is a process's stdout that sends its first line, without the
// newline, on First, and drops the rest: a way to wait for a program's
// "listening on" or "ready" line.
type LineCatcher struct {
	First chan string
	buf   bytes.Buffer
	sent  bool
}

// NewLineCatcher returns a LineCatcher.
func NewLineCatcher() *LineCatcher { return &LineCatcher{First: make(chan string, 1)} }

// Write is called by os/exec's copying goroutine only.
func (c *LineCatcher) Write(p []byte) (int, error) {
	if !c.sent {
		c.buf.Write(p)
		if line, _, ok := strings.Cut(c.buf.String(), "\n"); ok {
			c.First <- line
			c.sent = true
		}
	}
	return len(p), nil
}

// Build builds the package pkg, from the directory dir, into a temporary
// directory of t, with -race if the test runs with it, so that a data race
// in the program fails the test by its exit status. It returns the
// binary's path.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "program")
	args := []string{"build", "-o", bin}
	if RaceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return bin
}
