package sqlitejournal_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// BenchmarkCommit commits batches of 1000 new runs, each of about 300
// bytes; the figure is per run, the batch's fsync included.
func BenchmarkCommit(b *testing.B) {
	j, _ := setup(b)
	const batch = 1000
	var runs []localtasks.JournalRun
	for k := range batch {
		r := testRun(fmt.Sprint(k))
		runs = append(runs, r)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for k := range runs {
			runs[k].ID = fmt.Sprintf("run-%09d", n)
			n++
		}
		commit(b, j, localtasks.JournalBatch{Runs: runs})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/run")
}

// BenchmarkLoad loads 100 000 runs.
func BenchmarkLoad(b *testing.B) {
	j, _ := setup(b)
	const n, batch = 100_000, 10_000
	for i := 0; i < n; i += batch {
		var runs []localtasks.JournalRun
		for k := i; k < i+batch; k++ {
			runs = append(runs, testRun(fmt.Sprintf("run-%09d", k)))
		}
		commit(b, j, localtasks.JournalBatch{Runs: runs})
	}
	b.ReportAllocs()
	for b.Loop() {
		loaded := 0
		err := j.Load(b.Context(), func(*localtasks.JournalRun) error { loaded++; return nil }, nil)
		require.NoError(b, err)
		require.Equal(b, n, loaded)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
}
