package localtasks_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

type syncArgs struct {
	Customer string
	Batch    int
}

// syncLog records, per customer, the batches in the order they started,
// and the most batches of one customer seen running at once.
var syncLog struct {
	sync.Mutex
	order         map[string][]int
	running, most map[string]int
	globexStarted chan struct{} // closed when globex's first batch starts
}

// syncCustomer syncs one batch of a customer's records: one batch per
// customer at a time, as the customer's API asks, while different
// customers sync side by side.
var syncCustomer = localtasks.Define("example.limits.sync",
	func(ctx context.Context, a syncArgs) (struct{}, error) {
		syncLog.Lock()
		syncLog.order[a.Customer] = append(syncLog.order[a.Customer], a.Batch)
		syncLog.running[a.Customer]++
		syncLog.most[a.Customer] = max(syncLog.most[a.Customer], syncLog.running[a.Customer])
		globexStarted := syncLog.globexStarted
		syncLog.Unlock()

		switch {
		case a.Customer == "globex" && a.Batch == 1:
			close(globexStarted)
		case a.Customer == "acme" && a.Batch == 1:
			// acme's first batch waits for globex's first to start: it
			// can, for the limit is per customer.
			select {
			case <-globexStarted:
			case <-ctx.Done():
				return struct{}{}, ctx.Err()
			}
		}

		syncLog.Lock()
		syncLog.running[a.Customer]--
		syncLog.Unlock()
		return struct{}{}, nil
	},
	localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer"}),
)

func ExampleWithConcurrencyLimit() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	syncLog.order = map[string][]int{}
	syncLog.running, syncLog.most = map[string]int{}, map[string]int{}
	syncLog.globexStarted = make(chan struct{})

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		panic(err)
	}
	for batch := 1; batch <= 3; batch++ {
		for _, customer := range []string{"acme", "globex"} {
			if _, err := syncCustomer.Enqueue(ctx, pool, syncArgs{customer, batch}); err != nil {
				panic(err)
			}
		}
	}
	// Drain waits until every run has finished.
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}

	// The batches of one customer waited for each other, in order, with
	// 4 workers free.
	syncLog.Lock()
	for _, customer := range slices.Sorted(maps.Keys(syncLog.order)) {
		fmt.Println(customer, syncLog.order[customer], "at most", syncLog.most[customer], "at once")
	}
	syncLog.Unlock()

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// acme [1 2 3] at most 1 at once
	// globex [1 2 3] at most 1 at once
}
