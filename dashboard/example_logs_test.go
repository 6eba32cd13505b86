package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
	"github.com/localtasks/localtasks/dashboard/dashapi"
)

var ship = localtasks.Define("dashboard_test.example.ship", func(ctx context.Context, order int) (string, error) {
	log := localtasks.Logger(ctx)
	log.Info("packing", "order", order, slog.Group("box", "size", "M"))
	log.Warn("carrier slow", "carrier", "acme post")
	return "shipped", nil
})

// A run's detail, GET api/results/{id}, carries the records it wrote
// through localtasks.Logger(ctx), oldest first; listings and events carry
// only their count, log_count. The page's detail view lists them, and so
// does `localtasks result`.
func Example_runLogs() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}, // the run keeps its records whatever the Logger does with them
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}})
	if err != nil {
		panic(err)
	}

	run, err := ship.Enqueue(ctx, pool, 42)
	if err != nil {
		panic(err)
	}
	if _, err := run.Wait(ctx); err != nil {
		panic(err)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/results/"+run.ID(), nil))
	var t dashapi.Task
	if err := json.Unmarshal(rec.Body.Bytes(), &t); err != nil {
		panic(err)
	}
	fmt.Println(t.LogCount, "records,", t.LogsDropped, "dropped")
	for _, r := range t.Logs {
		fmt.Println(r.Attempt, r.Level, r.Stream, r.Message, r.Attrs)
	}
	// Output:
	// 2 records, 0 dropped
	// 1 INFO log packing [{order 42} {box.size M}]
	// 1 WARN log carrier slow [{carrier acme post}]
}
