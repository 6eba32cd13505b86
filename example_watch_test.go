package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// chunk stands in, in this example, for work that takes a while: the task
// does a chunk each time the watching loop below lets it.
var chunk = make(chan struct{})

var download = localtasks.Define("example.watch.download", func(ctx context.Context, url string) (int, error) {
	for i := 1; i <= 3; i++ {
		<-chunk
		localtasks.SetProgress(ctx, int64(i), 3, fmt.Sprintf("chunk %d of %s", i, url))
	}
	<-chunk
	return 3, nil
})

func ExampleHandle_Watch() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := download.Enqueue(ctx, pool, "https://example.com/big.iso")
	if err != nil {
		panic(err)
	}
	// The first value is the run as it is now, then one for each change
	// of its status or progress, until it finishes (or ctx ends). A watch
	// started after the run finished yields its final state alone.
	for res, err := range h.Watch(ctx) {
		if err != nil {
			panic(err) // ctx ended, or the ID is unknown
		}
		if res.Status == localtasks.StatusReady {
			continue // no worker has taken it yet
		}
		fmt.Printf("%-10s %d/%d\n", res.Status, res.Progress.Done, res.Progress.Total)
		if res.Status == localtasks.StatusRunning {
			chunk <- struct{}{}
		}
	}
	n, err := h.Wait(ctx)
	fmt.Println(n, err)
	// Output:
	// RUNNING    0/0
	// RUNNING    1/3
	// RUNNING    2/3
	// RUNNING    3/3
	// SUCCESSFUL 3/3
	// 3 <nil>
}
