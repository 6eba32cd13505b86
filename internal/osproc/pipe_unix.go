//go:build unix

package osproc

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// ExitReader reads the parent's end of a pipe that a worker process writes
// to: as the *os.File it wraps until Exited says the worker has exited, then
// what the pipe still holds, then io.EOF, without waiting for the end of the
// stream.
//
// The stream ends only once every process that holds the pipe's write end
// has closed it, and a process the worker's task started may hold it for as
// long as it lives, if it inherited it (the worker makes its protocol
// descriptors close-on-exec, but not every descriptor a task can pass on).
// So the parent learns of a worker's death from its exit, and reads no
// further than what the worker wrote.
//
// Read is for one goroutine at a time; Exited may be called from any.
type ExitReader struct {
	f      *os.File
	exited atomic.Bool
	left   int // how much more Read may return after the exit
}

// afterExit bounds what an ExitReader returns after the exit: more than a
// pipe's buffer holds (1 MiB at most, unless the system's
// fs.pipe-max-size says more), and a bound on a process that outlived the
// worker and goes on writing to the pipe.
const afterExit = 16 << 20

// NewExitReader returns an ExitReader on f, the read end of a pipe made by
// os.Pipe (which the runtime's poller waits on).
func NewExitReader(f *os.File) *ExitReader { return &ExitReader{f: f, left: afterExit} }

// Read reads from the pipe, as os.File.Read until the worker has exited;
// then it returns what the pipe holds without waiting for more, and io.EOF
// once it is empty.
func (r *ExitReader) Read(p []byte) (int, error) {
	if !r.exited.Load() {
		n, err := r.f.Read(p)
		if n > 0 || err == nil || !r.exited.Load() {
			return n, err
		}
		// Exited woke it (its deadline), or the stream ended: read
		// what is left.
	}
	return r.readLeft(p)
}

// readLeft reads what the pipe holds, without waiting.
func (r *ExitReader) readLeft(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	for {
		var n int
		var rerr error
		// Control, unlike Read, ignores the deadline that Exited set,
		// and never waits: the descriptor is non-blocking.
		if err := rc.Control(func(fd uintptr) { n, rerr = syscall.Read(int(fd), p) }); err != nil {
			return 0, err
		}
		switch {
		case n > 0:
			r.left -= n
			return n, nil
		case rerr == syscall.EINTR:
			continue
		case rerr == nil || rerr == syscall.EAGAIN:
			// The end of the stream, or an empty pipe that the exited
			// worker will not fill.
			return 0, io.EOF
		default:
			return 0, rerr
		}
	}
}

// Exited says that the worker process has exited: from now on Read returns
// what the pipe holds, and then io.EOF, and a Read waiting for more
// returns at once.
func (r *ExitReader) Exited() {
	r.exited.Store(true)
	// A deadline in the past wakes a Read that waits in the poller; it
	// then sees exited, and reads what is left.
	r.f.SetReadDeadline(time.Unix(1, 0))
}

// Close closes the pipe's read end.
func (r *ExitReader) Close() error { return r.f.Close() }
