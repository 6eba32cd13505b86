package localtasks_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localtasks/localtasks"
)

var benchNoop = localtasks.Define("bench.noop", func(ctx context.Context, n int) (int, error) { return n, nil })

func benchPool(b *testing.B, workers, maxResults int) *localtasks.ThreadPoolBackend {
	b.Helper()
	p, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: workers, Config: localtasks.Config{MaxResults: maxResults}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// BenchmarkEnqueue measures Enqueue alone, with 8 workers draining the
// queue at the same time.
func BenchmarkEnqueue(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := benchNoop.Enqueue(ctx, p, i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueueParallel measures Enqueue from many goroutines at once,
// as from many web handlers.
func BenchmarkEnqueueParallel(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8, 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := benchNoop.Enqueue(ctx, p, i); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRoundTrip is workload W1 in small: enqueue b.N no-op tasks on 8
// workers, then wait for each result by its handle. ns/op is the cost of one
// task end to end: enqueue, dispatch, run, store, read.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8, b.N+1)
	hs := make([]localtasks.Handle[int], 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h, err := benchNoop.Enqueue(ctx, p, i)
		if err != nil {
			b.Fatal(err)
		}
		hs = append(hs, h)
	}
	for _, h := range hs {
		if _, err := h.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

var benchCountdown = localtasks.Define("bench.countdown", func(ctx context.Context, c *countdown) (struct{}, error) {
	if c.left.Add(-1) == 0 {
		close(c.done)
	}
	return struct{}{}, nil
})

type countdown struct {
	left atomic.Int64
	done chan struct{}
}

// BenchmarkDispatch measures the workers' side alone: b.N tasks queued
// while 8 workers are held, then released; ns/op is one task taken,
// started, run, settled and stored.
func BenchmarkDispatch(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8, b.N+1)
	release := make(chan struct{})
	for range 8 {
		started := make(chan struct{})
		if _, err := gate.Enqueue(ctx, p, gateArgs{started: started, release: release}); err != nil {
			b.Fatal(err)
		}
		<-started
	}
	c := &countdown{done: make(chan struct{})}
	c.left.Store(int64(b.N))
	for range b.N {
		if _, err := benchCountdown.Enqueue(ctx, p, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	close(release)
	<-c.done
}

// BenchmarkGetResult reads finished results from the store, which moves
// each to the front of the LRU.
func BenchmarkGetResult(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 2, 1000)
	ids := make([]string, 1000)
	for i := range ids {
		h, err := benchNoop.Enqueue(ctx, p, i)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		ids[i] = h.ID()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := p.GetResult(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	benchKeyed   = benchNoop.Using(localtasks.WithKey("bench"))
	benchLimited = localtasks.Define("bench.limited", func(ctx context.Context, a benchCustomer) (int, error) { return a.ID, nil },
		localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 2, Per: "ID"}))
)

type benchCustomer struct{ ID int }

// BenchmarkEnqueueKeyed measures an Enqueue answered AlreadyEnqueued: the
// cost of a duplicate request, against a run that holds the key.
func BenchmarkEnqueueKeyed(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 1, 0)
	hold, err := benchKeyed.Using(localtasks.WithDelay(24*time.Hour)).Enqueue(ctx, p, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := benchKeyed.Enqueue(ctx, p, 1)
		if err != nil || h.ID() != hold.ID() {
			b.Fatal("the duplicate was enqueued", err)
		}
	}
}

// BenchmarkRoundTripLimited is BenchmarkRoundTrip for a task with a
// concurrency limit per argument value, over 100 values: the cost of the
// groups on the hot path.
func BenchmarkRoundTripLimited(b *testing.B) {
	ctx := context.Background()
	p := benchPool(b, 8, b.N+1)
	hs := make([]localtasks.Handle[int], 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h, err := benchLimited.Enqueue(ctx, p, benchCustomer{ID: i % 100})
		if err != nil {
			b.Fatal(err)
		}
		hs = append(hs, h)
	}
	for _, h := range hs {
		if _, err := h.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
