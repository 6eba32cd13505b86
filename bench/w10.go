package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// w10Streams is how many dashboard event streams read during W10's run.
const w10Streams = 100

func w10() *workload {
	const workers = 8
	return &workload{
		id: "W10", title: "watched",
		// Rounds: the idle streams the memory system opens.
		sizes: [3]params{{N: 200_000, Rounds: 1000}, {N: 100_000, Rounds: 1000}, {N: 500, Rounds: 20}},
		systems: []system{
			{name: "no-stream", run: func(ctx context.Context, p params) (measurement, error) {
				return w10Run(ctx, workers, p.N, 0)
			}},
			{name: "streams-100", run: func(ctx context.Context, p params) (measurement, error) {
				return w10Run(ctx, workers, p.N, w10Streams)
			}},
			{name: "idle-streams", run: func(ctx context.Context, p params) (measurement, error) {
				return w10Idle(ctx, p.Rounds)
			}},
		},
		targets: []target{
			throughputAtLeast("streams-100", "no-stream", 0.5),
			extraAtMost("idle-streams", "heap_kib_per_stream", 16, "KiB heap per idle stream"),
		},
		legend: "W10: W1's work (N no-op tasks, 8 workers, each result read back by ID) on a thread pool shown by a dashboard served " +
			"over loopback HTTP (net/http.Server), with no event stream open (no-stream) and with 100 SSE clients reading " +
			"api/events throughout (streams-100; stream_kib: what each client read). ratio = streams-100 tasks/s / no-stream tasks/s. " +
			"idle-streams: opens Rounds idle streams (raw TCP clients that read the first event only) and measures the HeapAlloc " +
			"growth after GC per stream (heap_kib_per_stream, client sockets included) and with goroutine stacks " +
			"(heap_stack_kib_per_stream, for information); tasks = streams. ratio = 16 KiB / heap_kib_per_stream.",
	}
}

// w10Server serves a dashboard of b on loopback. Call stop to close it.
func w10Server(b localtasks.Backend, maxStreams int) (addr string, stop func(), err error) {
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{b}, MaxStreams: maxStreams})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	return ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// openStream opens GET api/events on a raw TCP connection, and reads up
// to the end of the first event (the stats the stream starts with), with
// rd, which it returns for more.
func openStream(addr string, rd func(net.Conn) *bufio.Reader) (net.Conn, *bufio.Reader, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.WriteString(c, "GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		c.Close()
		return nil, nil, err
	}
	r := rd(c)
	status, err := r.ReadString('\n')
	if err == nil && !strings.Contains(status, " 200 ") {
		err = fmt.Errorf("api/events answered %q", strings.TrimSpace(status))
	}
	for err == nil { // headers, then the first chunk up to the stats' end
		var line string
		if line, err = r.ReadString('\n'); strings.HasPrefix(line, "data: ") {
			break
		}
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, r, nil
}

// w10Run is W1's work on a thread pool shown by a dashboard, with streams
// SSE clients reading its event stream throughout.
func w10Run(ctx context.Context, workers, n, streams int) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers, Config: localtasks.Config{MaxResults: n}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	addr, stop, err := w10Server(b, 0)
	if err != nil {
		return measurement{}, err
	}
	var (
		wg   sync.WaitGroup
		read atomic.Int64
	)
	conns := make([]net.Conn, 0, streams)
	for range streams {
		c, r, err := openStream(addr, func(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 32<<10) })
		if err != nil {
			stop()
			return measurement{}, err
		}
		conns = append(conns, c)
		wg.Go(func() { // reads until the server closes
			buf := make([]byte, 32<<10)
			for {
				k, err := r.Read(buf)
				read.Add(int64(k))
				if err != nil {
					return
				}
			}
		})
	}
	m, err := ltEnqueueWait(ctx, b, n, noopTask, func(i int) int { return i }, checkIdentity)
	got := read.Load()
	stop()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	if err != nil {
		return m, err
	}
	if streams > 0 {
		m.Extra = map[string]float64{"stream_kib": float64(got) / float64(streams) / 1024}
	}
	return m, nil
}

// w10Idle opens streams idle event streams on a dashboard of an idle
// pool, and measures what they take of the heap, and of the goroutine
// stacks, after GC.
func w10Idle(ctx context.Context, streams int) (measurement, error) {
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 8})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	addr, stop, err := w10Server(b, streams+1)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	// A first stream, closed: what any stream starts once (the hub, the
	// server's pools) is not counted per stream.
	first, _, err := openStream(addr, func(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 256) })
	if err != nil {
		return measurement{}, err
	}
	defer first.Close()

	before := heapAfterGC()
	start := time.Now()
	conns := make([]net.Conn, 0, streams)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range streams {
		c, _, err := openStream(addr, func(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 256) })
		if err != nil {
			return measurement{}, fmt.Errorf("stream %d: %w", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	secs := time.Since(start).Seconds()
	after := heapAfterGC()
	if after.HeapAlloc < before.HeapAlloc {
		return measurement{}, errors.New("the heap shrank while streams opened: measure again")
	}
	per := func(a, b uint64) float64 { return float64(a-min(a, b)) / float64(streams) / 1024 }
	return measurement{Tasks: streams, Seconds: secs, Extra: map[string]float64{
		"heap_kib_per_stream":       per(after.HeapAlloc, before.HeapAlloc),
		"heap_stack_kib_per_stream": per(after.HeapAlloc+after.StackInuse, before.HeapAlloc+before.StackInuse),
	}}, nil
}

// heapAfterGC reads the memory statistics after two collections, so that
// what the first left for finalizers is gone too.
func heapAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}
