package otel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/localtasks/localtasks"
)

// TestRecordAllocates checks that recording an attempt's start and its
// run's end allocates nothing once the task's attribute sets are made.
func TestRecordAllocates(t *testing.T) {
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	defer pool.Close(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := NewMetrics(pool, mp)
	require.NoError(t, err)
	defer m.Close()
	// A Metrics of its own for the test's goroutine: m's maps belong to
	// m's reader.
	own := &Metrics{byTaskCode: map[taskCode]*attrOpts{}, starts: map[string]time.Time{},
		finished: m.finished, duration: m.duration, lateness: m.lateness, backend: m.backend}

	now := time.Now()
	started := localtasks.Event{Kind: localtasks.EventStarted, Result: localtasks.TaskResult{
		ID: "run", Task: "task", Status: localtasks.StatusRunning, Attempts: 1,
		EnqueuedAt: now, LastAttemptedAt: now.Add(time.Millisecond)}}
	finished := started
	finished.Kind = localtasks.EventFinished
	finished.Result.Status = localtasks.StatusSuccessful
	finished.Result.FinishedAt = now.Add(2 * time.Millisecond)
	ctx := context.Background()
	own.record(ctx, &started)
	own.record(ctx, &finished)
	allocs := testing.AllocsPerRun(1000, func() {
		own.record(ctx, &started)
		own.record(ctx, &finished)
	})
	require.Zero(t, allocs)
}
