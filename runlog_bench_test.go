package localtasks_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/localtasks/localtasks"
)

var benchLogOne = localtasks.Define("bench.logone", func(ctx context.Context, n int) (int, error) {
	localtasks.Logger(ctx).Info("charged", "cents", n)
	return n, nil
})

// BenchmarkRoundTripLogging is BenchmarkRoundTrip with a task that writes
// one record through Logger(ctx) to a JSON logger: kept on the run
// (RunLogs' default) or not (RunLogs.Off); silent is the no-op task, whose
// runs keep nothing either way. ns/op is one task end to end.
func BenchmarkRoundTripLogging(b *testing.B) {
	for _, c := range []struct {
		name string
		task *localtasks.Task[int, int]
		logs localtasks.RunLogs
	}{
		{"silent", benchNoop, localtasks.RunLogs{}},
		{"kept", benchLogOne, localtasks.RunLogs{}},
		{"off", benchLogOne, localtasks.RunLogs{Off: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			p, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 8, Config: localtasks.Config{
				MaxResults: b.N + 1, RunLogs: c.logs, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			hs := make([]localtasks.Handle[int], 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h, err := c.task.Enqueue(ctx, p, i)
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
		})
	}
}
