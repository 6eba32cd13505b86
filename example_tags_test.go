package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// importFile imports a file, and notes on its run how many rows it read.
var importFile = localtasks.Define("example.tags.import",
	func(ctx context.Context, path string) (int, error) {
		rows := 1200 // read from path
		localtasks.SetMetadata(ctx, "rows", fmt.Sprint(rows))
		return rows, nil
	},
	localtasks.WithTags("import"),
)

func ExampleWithTags() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	// Per call, the tags replace the task's: pass them again to keep them.
	forAcme := importFile.Using(
		localtasks.WithTags(append(importFile.Options().Tags, "tenant-acme")...),
		localtasks.WithMetadata(map[string]string{"request_id": "req-7"}),
	)
	h, err := forAcme.Enqueue(ctx, pool, "/data/acme.csv")
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}
	if _, err := importFile.Enqueue(ctx, pool, "/data/other.csv"); err != nil {
		panic(err)
	}
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}

	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Tags, res.Metadata["request_id"], res.Metadata["rows"])

	// A snapshot lists the runs of one tenant, or of one request.
	snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Tag: "tenant-acme"})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(snap.Finished), snap.Finished[0].ID == h.ID())
	snap, err = pool.Snapshot(ctx, localtasks.SnapshotOptions{Tag: "import"})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(snap.Finished))
	// Output:
	// [import tenant-acme] req-7 1200
	// 1 true
	// 2
}
