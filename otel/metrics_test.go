package otel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/localtasks/localtasks"
)

var (
	okTask = localtasks.Define("otel.test.ok", func(ctx context.Context, n int) (int, error) {
		return n * 2, nil
	})
	failTask = localtasks.Define("otel.test.fail", func(ctx context.Context, reason string) (int, error) {
		return 0, errors.New(reason)
	}, localtasks.WithRetry(localtasks.FixedRetry(2, 0)))
	blockTask = localtasks.Define("otel.test.block", func(ctx context.Context, _ struct{}) (int, error) {
		select {
		case <-release:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// release ends the runs of blockTask; each test makes its own.
	release chan struct{}
)

// TestMetricsScrape runs tasks on a thread pool, one that fails twice,
// and one that holds a worker while /metrics is scraped over HTTP, and
// checks the families and values of the Prometheus exposition.
func TestMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	release = make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	events := make(chan localtasks.Event, 1024)
	testRecorded = func(ev localtasks.Event) { events <- ev }
	t.Cleanup(func() { testRecorded = nil })

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Name: "otel-test", Queues: []string{"default", "slow"}},
		MaxWorkers: 3,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	t.Cleanup(releaseAll) // first, if the test fails while the run blocks

	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	m, err := NewMetrics(pool, mp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)

	// waitFor reads the recorded events until want of kind, of task, were
	// seen since the test began.
	type kindTask struct {
		kind localtasks.EventKind
		task string
	}
	seen := map[kindTask]int{}
	waitFor := func(kind localtasks.EventKind, task string, want int) {
		t.Helper()
		for seen[kindTask{kind, task}] < want {
			select {
			case ev := <-events:
				seen[kindTask{ev.Kind, ev.Result.Task}]++
			case <-ctx.Done():
				t.Fatalf("%d of %d %v events of %q recorded", seen[kindTask{kind, task}], want, kind, task)
			}
		}
	}

	// One run holds a worker on queue "slow" while the others run, and
	// one waits there for an hour.
	block, err := blockTask.Using(localtasks.WithQueue("slow")).Enqueue(ctx, pool, struct{}{})
	require.NoError(t, err)
	later, err := okTask.Using(localtasks.WithQueue("slow"), localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, 0)
	require.NoError(t, err)
	for i := range 3 {
		h, err := okTask.Enqueue(ctx, pool, i)
		require.NoError(t, err)
		_, err = h.Wait(ctx)
		require.NoError(t, err)
	}
	h, err := failTask.Enqueue(ctx, pool, "disk full")
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "disk full")
	// The blocking run's start may come after the others' ends.
	waitFor(localtasks.EventFinished, "otel.test.fail", 1)
	waitFor(localtasks.EventStarted, "otel.test.block", 1)

	fams := scrape(t, srv.URL)
	labels := map[string]string{"localtasks_backend": "otel-test"}
	with := func(kv ...string) map[string]string {
		l := map[string]string{"localtasks_backend": "otel-test"}
		for i := 0; i < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}

	require.Equal(t, 3.0, value(t, fams, "localtasks_runs_finished_total", with("localtasks_task", "otel.test.ok", "localtasks_run_status", "SUCCESSFUL")))
	require.Equal(t, 1.0, value(t, fams, "localtasks_runs_finished_total", with("localtasks_task", "otel.test.fail", "localtasks_run_status", "FAILED")))
	require.Equal(t, uint64(3), histogram(t, fams, "localtasks_attempt_duration_seconds", with("localtasks_task", "otel.test.ok", "localtasks_attempt_outcome", "success")).GetSampleCount())
	require.Equal(t, uint64(2), histogram(t, fams, "localtasks_attempt_duration_seconds", with("localtasks_task", "otel.test.fail", "localtasks_attempt_outcome", "failure")).GetSampleCount())
	require.Equal(t, uint64(3), histogram(t, fams, "localtasks_attempt_lateness_seconds", with("localtasks_task", "otel.test.ok")).GetSampleCount())
	require.Equal(t, uint64(2), histogram(t, fams, "localtasks_attempt_lateness_seconds", with("localtasks_task", "otel.test.fail")).GetSampleCount())
	require.Equal(t, uint64(1), histogram(t, fams, "localtasks_attempt_lateness_seconds", with("localtasks_task", "otel.test.block")).GetSampleCount())
	require.Equal(t, 1.0, value(t, fams, "localtasks_runs_active", with("localtasks_run_status", "RUNNING")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_runs_active", with("localtasks_run_status", "READY")))
	require.Equal(t, 1.0, value(t, fams, "localtasks_runs_active", with("localtasks_run_status", "SCHEDULED")))
	require.Equal(t, 1.0, value(t, fams, "localtasks_queue_running", with("messaging_destination_name", "slow")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_running", with("messaging_destination_name", "default")))
	require.Equal(t, 1.0, value(t, fams, "localtasks_queue_depth", with("messaging_destination_name", "slow", "localtasks_run_status", "SCHEDULED")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_depth", with("messaging_destination_name", "slow", "localtasks_run_status", "READY")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_depth", with("messaging_destination_name", "default", "localtasks_run_status", "SCHEDULED")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_depth", with("messaging_destination_name", "default", "localtasks_run_status", "READY")))
	require.Equal(t, 3.0, value(t, fams, "localtasks_workers", labels))
	require.Equal(t, 0.0, value(t, fams, "localtasks_metrics_events_dropped_total", labels))

	// Once the blocking run ends and the waiting one is cancelled,
	// nothing runs or waits, and the blocking run's attempt is counted.
	releaseAll()
	_, err = block.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, later.Cancel(ctx))
	waitFor(localtasks.EventFinished, "otel.test.block", 1)
	fams = scrape(t, srv.URL)
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_depth", with("messaging_destination_name", "slow", "localtasks_run_status", "SCHEDULED")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_runs_active", with("localtasks_run_status", "RUNNING")))
	require.Equal(t, 0.0, value(t, fams, "localtasks_queue_running", with("messaging_destination_name", "slow")))
	require.Equal(t, 1.0, value(t, fams, "localtasks_runs_finished_total", with("localtasks_task", "otel.test.block", "localtasks_run_status", "SUCCESSFUL")))
	require.Equal(t, uint64(1), histogram(t, fams, "localtasks_attempt_duration_seconds", with("localtasks_task", "otel.test.block", "localtasks_attempt_outcome", "success")).GetSampleCount())
}

// TestQueueDepth reads localtasks.queue.depth with an in-memory reader:
// the READY runs a paused queue holds, and the SCHEDULED runs of each
// queue, one point for each queue and status.
func TestQueueDepth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Name: "otel-depth", Queues: []string{"default", "bulk"}},
		MaxWorkers: 1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	m, err := NewMetrics(pool, mp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })

	require.NoError(t, pool.Pause(ctx, localtasks.Pause{Queue: "bulk"}))
	for i := range 3 {
		_, err := okTask.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, pool, i)
		require.NoError(t, err)
	}
	for i := range 2 {
		_, err := okTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, i)
		require.NoError(t, err)
	}
	_, err = okTask.Using(localtasks.WithQueue("bulk"), localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, 9)
	require.NoError(t, err)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	type point struct{ queue, status string }
	got := map[point]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != "localtasks.queue.depth" {
				continue
			}
			require.Equal(t, "{run}", md.Unit)
			sum, ok := md.Data.(metricdata.Sum[int64])
			require.True(t, ok, "an up-down counter: %T", md.Data)
			require.False(t, sum.IsMonotonic)
			for _, dp := range sum.DataPoints {
				backend, _ := dp.Attributes.Value(AttrBackend)
				require.Equal(t, "otel-depth", backend.AsString())
				queue, _ := dp.Attributes.Value(AttrQueue)
				status, _ := dp.Attributes.Value(AttrStatus)
				got[point{queue.AsString(), status.AsString()}] = dp.Value
			}
		}
	}
	require.Equal(t, map[point]int64{
		{"default", "READY"}: 0, {"default", "SCHEDULED"}: 2,
		{"bulk", "READY"}: 3, {"bulk", "SCHEDULED"}: 1,
	}, got)
}

// TestNewMetricsRefuses checks what NewMetrics says of a nil MeterProvider.
func TestNewMetricsRefuses(t *testing.T) {
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	defer pool.Close(context.Background())
	_, err = NewMetrics(pool, nil)
	require.ErrorContains(t, err, "MeterProvider is nil")
}

// scrape GETs url, a /metrics endpoint, and parses its text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// find returns the metric of family name whose labels are exactly labels.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	require.True(t, ok, "no family %s in the scrape", name)
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(labels) {
			match := true
			for k, v := range labels {
				if got[k] != v {
					match = false
				}
			}
			if match {
				return m
			}
		}
	}
	t.Fatalf("no %s%v in the scrape: %v", name, labels, fam)
	return nil
}

// value returns the value of a counter or gauge.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(t, fams, name, labels)
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetUntyped().GetValue()
}

// histogram returns a histogram.
func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	h := find(t, fams, name, labels).GetHistogram()
	require.NotNil(t, h, "%s is not a histogram", name)
	return h
}
