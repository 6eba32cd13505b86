//go:build unix

package child

import (
	"bytes"
	"errors"
	"log"
	"os"
	"syscall"

	"github.com/localtasks/localtasks/internal/wire"
)

// A worker captures what its tasks print, so that each line reaches the
// parent tagged with the run that printed it: stdout at the descriptor
// (fd 1 becomes a pipe the worker reads, which catches C code too) and
// stderr at os.Stderr and the log package's output. Runtime crash reports
// still go to the real fd 2, which the parent reads itself: a dying worker
// cannot forward them.
//
// Lines travel as log messages on the worker's stream, in order with its
// started and done messages. Reading happens under worker.omu, by a reader
// goroutine while a task runs and by the executor, which drains both pipes
// before it reports a run started or done: every byte written during a run
// is forwarded, tagged with it, before its done message.

type capture struct {
	w       *worker
	stream  string
	r       *os.File // the read end, non-blocking
	fd      int
	partial []byte
	buf     []byte
}

// pollable makes descriptor fd non-blocking, for os.NewFile to hand it to
// the runtime's poller; if it cannot, the descriptor stays as it is, and
// works as well, if at a higher cost.
func pollable(fd int) { syscall.SetNonblock(fd, true) }

// startCapture redirects the worker's stdout and stderr into pipes it reads.
func (w *worker) startCapture() error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	// fd 1 becomes the pipe's write end, blocking: os.Stdout was made for a
	// blocking descriptor and would not wait out a full pipe.
	if err := dup2(int(outW.Fd()), 1); err != nil {
		return err
	}
	outW.Close()
	if err := syscall.SetNonblock(1, false); err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	os.Stderr = errW
	log.SetOutput(errW)
	for _, c := range []*capture{{w: w, stream: "stdout", r: outR}, {w: w, stream: "stderr", r: errR}} {
		c.fd = int(c.r.Fd())
		if err := syscall.SetNonblock(c.fd, true); err != nil {
			return err
		}
		c.buf = make([]byte, 32<<10)
		w.captures = append(w.captures, c)
		go c.read()
	}
	return nil
}

// read forwards what the pipe brings while no executor drain does.
func (c *capture) read() {
	rc, err := c.r.SyscallConn()
	if err != nil {
		return
	}
	for {
		eof := false
		err := rc.Read(func(uintptr) bool {
			c.w.omu.Lock()
			defer c.w.omu.Unlock()
			n, err := c.drainLocked()
			eof = err == nil && n == 0 // nothing and no EAGAIN: the write ends are closed
			return !errors.Is(err, syscall.EAGAIN)
		})
		if err != nil || eof {
			return
		}
	}
}

// drainLocked reads what the pipe holds, up to EAGAIN, and forwards its
// whole lines, tagged with the current run. Must hold w.omu.
func (c *capture) drainLocked() (int, error) {
	total := 0
	for {
		n, err := syscall.Read(c.fd, c.buf)
		if n > 0 {
			total += n
			c.partial = append(c.partial, c.buf[:n]...)
			c.forwardLinesLocked()
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
}

// forwardLinesLocked forwards the whole lines c.partial holds. A line
// longer than a frame holds goes in parts as long as one, each but the last
// marked wire.LineContinues, as soon as a part's worth has come: so an
// endless line never ends the worker, nor grows its memory by more than a
// frame. Must hold w.omu.
func (c *capture) forwardLinesLocked() {
	most := c.w.limit - wire.LineReserve
	p := c.partial
	for {
		i := bytes.IndexByte(p, '\n')
		switch {
		case i >= 0 && i <= most:
			c.forwardLocked(string(p[:i]))
			p = p[i+1:]
		case i > most || i < 0 && len(p) > most:
			k := wire.Cut(p, most)
			c.forwardLocked(string(p[:k]) + wire.LineContinues)
			p = p[k:]
		default:
			c.partial = p
			return
		}
	}
}

func (c *capture) forwardLocked(line string) {
	c.w.sendLocked(wire.FromWorker{Kind: wire.KindLog, Seq: c.w.cur, Stream: c.stream, Line: line})
}

// settleOutputLocked drains every capture and sends the lines of the run
// that is ending, its unfinished last line included. Must hold w.omu.
//
// It asks the kernel once which pipes hold anything (readable: one system
// call on Linux, none of the two reads that would each find nothing), so
// that a run that printed nothing costs one system call here, not four.
func (w *worker) settleOutputLocked() {
	ready := readable(w.captures)
	for i, c := range w.captures {
		if ready&(1<<i) != 0 {
			c.drainLocked()
		}
		if len(c.partial) > 0 {
			c.forwardLocked(string(c.partial))
			c.partial = c.partial[:0]
		}
	}
}
