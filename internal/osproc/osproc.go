// Package osproc holds what the process pool's parent asks of the
// operating system: whether it can start workers at all, the attributes
// they start with, their pipes, and their resident memory.
package osproc

import (
	"os"
	"os/exec"
)

// Pipes makes a worker's four pipes and attaches the child's ends to cmd:
// its messages in on wire.InFD, out on wire.OutFD, and its stdout and
// stderr. It returns the parent's ends, and a func that closes the child's,
// for after the start.
func Pipes(cmd *exec.Cmd) (toChild, fromChild, stdout, stderr *os.File, closeChild func(), err error) {
	// Each pair: the child's end, then the parent's.
	var ends [4][2]*os.File
	closeAll := func(side int) {
		for _, e := range ends {
			if e[side] != nil {
				e[side].Close()
			}
		}
	}
	for i := range ends {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(0)
			closeAll(1)
			return nil, nil, nil, nil, nil, err
		}
		if i == 0 { // the parent writes the child's input
			ends[i] = [2]*os.File{r, w}
		} else { // the child writes its messages, stdout and stderr
			ends[i] = [2]*os.File{w, r}
		}
	}
	// ExtraFiles[i] becomes descriptor 3+i in the child: wire.InFD and
	// wire.OutFD.
	cmd.ExtraFiles = []*os.File{ends[0][0], ends[1][0]}
	cmd.Stdout, cmd.Stderr = ends[2][0], ends[3][0]
	return ends[0][1], ends[1][1], ends[2][1], ends[3][1], func() { closeAll(0) }, nil
}
