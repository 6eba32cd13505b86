package localtasks_test

import (
	"context"
	"testing"

	"github.com/localtasks/localtasks"
)

var benchProcStruct = localtasks.Define("bench.procstruct", func(ctx context.Context, a benchCustomer) (benchCustomer, error) { return a, nil })

// benchProcRoundTrip is workload W4 in small: b.N tasks through a process
// pool of 2 workers, enqueued, then waited for by handle. ns/op is one task
// end to end: enqueue, dispatch, the trip to a worker and back, settle,
// read. CPU time in the workers is not in the profile of this process.
func benchProcRoundTrip[A any](b *testing.B, t *localtasks.Task[A, A], arg func(int) A) {
	benchProcRoundTripOn(b, localtasks.ProcessPoolConfig{}, t, arg)
}

// benchProcRoundTripOn is benchProcRoundTrip on a pool of cfg (its
// MaxWorkers, Nice and MaxResults set here).
func benchProcRoundTripOn[A any](b *testing.B, cfg localtasks.ProcessPoolConfig, t *localtasks.Task[A, A], arg func(int) A) {
	ctx := context.Background()
	cfg.MaxWorkers, cfg.Nice, cfg.MaxResults = 2, localtasks.ProcessPoolNiceParent, b.N+1
	p, err := localtasks.NewProcessPool(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(ctx) })
	hs := make([]localtasks.Handle[A], 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h, err := t.Enqueue(ctx, p, arg(i))
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

// BenchmarkProcRoundTrip: an int argument and result, which skip gob.
func BenchmarkProcRoundTrip(b *testing.B) {
	benchProcRoundTrip(b, benchNoop, func(i int) int { return i })
}

// BenchmarkProcRoundTripStruct: a struct argument and result, through gob.
func BenchmarkProcRoundTripStruct(b *testing.B) {
	benchProcRoundTrip(b, benchProcStruct, func(i int) benchCustomer { return benchCustomer{ID: i} })
}
