//go:build unix

package river_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// benchLog is a no-op task that writes Records records through
// Logger(ctx).
var benchLog = localtasks.Define("river_test.bench-log", func(ctx context.Context, records int) (int, error) {
	for i := range records {
		localtasks.Logger(ctx).Info("step done", "step", i)
	}
	return records, nil
})

// BenchmarkRunLogs is BenchmarkEnqueueWait's EnqueueMany (the bench's W1)
// with run logs off and on, for runs that log nothing and for runs that
// write one record each (to Config.Logger, and kept if on): tasks a second, and this process's CPU time,
// allocations and bytes allocated a run (River's client and the producer
// together; PostgreSQL's are its own).
func BenchmarkRunLogs(b *testing.B) {
	const n = 1000
	for _, c := range []struct {
		name    string
		cfg     localtasks.RunLogs
		records int
	}{
		{"Off", localtasks.RunLogs{Off: true}, 0},
		{"OffOneRecord", localtasks.RunLogs{Off: true}, 1},
		{"OnNoRecord", localtasks.RunLogs{}, 0},
		{"OnOneRecord", localtasks.RunLogs{}, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			be, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(b), Workers: 8, Logger: quiet, FetchCooldown: time.Millisecond, RunLogs: c.cfg})
			require.NoError(b, err)
			defer be.Close(ctx)
			args := make([]int, n)
			for i := range args {
				args[i] = c.records
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0 := cpuTime()
			start := time.Now()
			var last localtasks.Handle[int]
			for b.Loop() {
				hs, err := benchLog.EnqueueMany(ctx, be, args)
				require.NoError(b, err)
				for _, h := range hs {
					_, err := h.Wait(ctx)
					require.NoError(b, err)
				}
				last = hs[n-1]
			}
			runs := float64(b.N * n)
			b.ReportMetric(runs/time.Since(start).Seconds(), "tasks/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/runs, "cpu-us/task")
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/runs, "allocs/task")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/runs, "B/task")
			res, err := last.Result(ctx)
			require.NoError(b, err)
			if !c.cfg.Off {
				require.Len(b, res.Logs, c.records)
			}
		})
	}
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
