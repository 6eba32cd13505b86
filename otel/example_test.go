package otel_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/otel"
)

var double = localtasks.Define("example.otel.double", func(ctx context.Context, n int) (int, error) {
	return 2 * n, nil
})

// ExampleNewMetrics serves a thread pool's metrics to Prometheus on
// /metrics, through OpenTelemetry's Prometheus exporter, and prints the
// gauges of a scrape.
func ExampleNewMetrics() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Name: "io"},
		MaxWorkers: 4,
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(ctx)
	m, err := otel.NewMetrics(pool, mp) // before enqueueing: earlier runs are not counted
	if err != nil {
		panic(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	h, err := double.Enqueue(ctx, pool, 21)
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "localtasks_workers") || strings.HasPrefix(l, "localtasks_runs_active") {
			fmt.Println(l)
		}
	}
	// Output:
	// localtasks_runs_active{localtasks_backend="io",localtasks_run_status="READY"} 0
	// localtasks_runs_active{localtasks_backend="io",localtasks_run_status="RUNNING"} 0
	// localtasks_runs_active{localtasks_backend="io",localtasks_run_status="SCHEDULED"} 0
	// localtasks_workers{localtasks_backend="io"} 4
	// localtasks_workers_restarts_total{localtasks_backend="io"} 0
}
