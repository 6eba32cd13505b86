package main

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

const w4Workers = 2

func w4() *workload {
	return &workload{
		id: "W4", title: "proc-noop",
		sizes: [3]params{{N: 20_000}, {N: 4_000}, {N: 100}},
		systems: []system{
			{name: "localtasks-proc", run: func(ctx context.Context, p params) (measurement, error) {
				return ltProcessPool(ctx, w4Workers, p.N, noopTask, func(i int) int { return i }, checkIdentity)
			}},
			{name: "python-proc", python: []string{"W4", "process"}},
			{name: "gob-floor", run: gobFloor},
		},
		targets: []target{
			throughputAtLeast("localtasks-proc", "python-proc", 20),
			throughputAtLeast("localtasks-proc", "gob-floor", 0.4),
		},
		legend: "W4: N no-op tasks through a process pool of 2 workers, from the first enqueue (workers already started) until every result is read. " +
			"gob-floor: one child process of the bench binary echoing a pipelined gob stream. ratio = localtasks-proc tasks/s / the other's tasks/s.",
	}
}

// gobRequest and gobReply are the gob floor's messages: a task's ID and
// argument, and its ID and value.
type gobRequest struct {
	ID  int
	Arg int
}

type gobReply struct {
	ID    int
	Value int
}

// gobFloor is W4's floor: the least a task can cost crossing to another
// process and back. It starts the bench binary again as a gob echo, writes
// every request from one goroutine through a bufio.Writer with one
// gob.Encoder, and reads the replies here with one gob.Decoder.
func gobFloor(ctx context.Context, p params) (measurement, error) {
	exe, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.CommandContext(ctx, exe, childArgs("role/gob-echo", params{})...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return measurement{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return measurement{}, err
	}
	if err := cmd.Start(); err != nil {
		return measurement{}, err
	}
	defer cmd.Wait()
	defer in.Close()

	bw := bufio.NewWriter(in)
	enc := gob.NewEncoder(bw)
	dec := gob.NewDecoder(bufio.NewReader(out))
	// One round trip first, outside the clock, as the process pool's
	// workers have started before its clock starts; it also sends gob's
	// type descriptions.
	var rep gobReply
	if err := enc.Encode(gobRequest{ID: -1}); err != nil {
		return measurement{}, err
	}
	if err := bw.Flush(); err != nil {
		return measurement{}, err
	}
	if err := dec.Decode(&rep); err != nil {
		return measurement{}, fmt.Errorf("gob echo did not answer: %w", err)
	}

	n := p.N
	values := make([]int, n)
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := enc.Encode(gobRequest{ID: i, Arg: i}); err != nil {
				sent <- err
				return
			}
		}
		sent <- bw.Flush()
	}()
	for range n {
		var rep gobReply // gob leaves zero fields out: decode into a zero value
		if err := dec.Decode(&rep); err != nil {
			return measurement{}, fmt.Errorf("reading a reply: %w", err)
		}
		values[rep.ID] = rep.Value
	}
	m := measurement{Tasks: n, Seconds: time.Since(start).Seconds()}
	if err := <-sent; err != nil {
		return measurement{}, err
	}
	return m, checkAll(values)
}

// gobEcho is the far end of the gob floor: it decodes requests from stdin
// with one gob.Decoder and encodes replies to stdout with one gob.Encoder,
// flushing whenever it has read all the input there is, until EOF.
func gobEcho(stdin io.Reader, stdout io.Writer) error {
	br := bufio.NewReader(stdin)
	bw := bufio.NewWriter(stdout)
	dec := gob.NewDecoder(br)
	enc := gob.NewEncoder(bw)
	for {
		var req gobRequest // gob leaves zero fields out: decode into a zero value
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return bw.Flush()
			}
			return err
		}
		if err := enc.Encode(gobReply{ID: req.ID, Value: noop(req.Arg)}); err != nil {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}
