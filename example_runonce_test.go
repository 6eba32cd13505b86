package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// syncFeed is a perpetual task that walks a feed a page at a time.
var syncFeed = localtasks.Define("example.runonce.feed",
	func(ctx context.Context, page int) (string, error) {
		if err := localtasks.SetNextArgs(ctx, page+1); err != nil {
			return "", err
		}
		return fmt.Sprintf("synced page %d", page), nil
	},
	localtasks.WithPerpetual(localtasks.Perpetual{Every: 10 * time.Minute}),
)

// RunOnce tests one step of a perpetual task: it runs one run, as a pool
// would, and says what would follow, without enqueueing it.
func ExampleImmediateBackend_RunOnce() {
	ctx := context.Background()
	clock := localtaskstest.NewFakeClock(time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC))
	b, err := localtasks.NewImmediate(localtasks.Config{Test: localtasks.TestConfig{Clock: clock}})
	if err != nil {
		panic(err)
	}
	defer b.Close(ctx)

	r, err := b.RunOnce(ctx, syncFeed.Definition(), 4)
	if err != nil {
		panic(err)
	}
	res, err := b.GetResult(ctx, r.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Value)
	fmt.Println("next:", r.NextArgs, "at", r.Next.Format("15:04"))
	// Output:
	// SUCCESSFUL synced page 4
	// next: 5 at 09:10
}
