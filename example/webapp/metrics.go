package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/otel"
)

// serveMetrics records the metrics of pools (package otel) and returns the
// handler of /metrics, which serves them to Prometheus, and a function that
// stops recording them.
func serveMetrics(pools ...localtasks.Backend) (http.Handler, func() error, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	var ms []*otel.Metrics
	stop := func() error {
		var errs []error
		for _, m := range ms {
			errs = append(errs, m.Close())
		}
		return errors.Join(append(errs, mp.Shutdown(context.Background()))...)
	}
	for _, p := range pools {
		m, err := otel.NewMetrics(p, mp)
		if err != nil {
			return nil, nil, errors.Join(err, stop())
		}
		ms = append(ms, m)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), stop, nil
}
