package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

var (
	retainedDouble = localtasks.Define("example.retention.double", func(ctx context.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("a negative size")
		}
		return 2 * n, nil
	})
	// sendNotice's callers never read its result: it keeps none.
	sendNotice = localtasks.Define("example.retention.notice", func(ctx context.Context, to string) (string, error) {
		return "sent to " + to, nil
	}, localtasks.WithDiscardResult())
)

// Failures are kept apart from successes, each kind under its own bound,
// and a task may keep no result at all.
func Example_retention() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := localtasks.NewImmediate(localtasks.Config{MaxResults: 2, MaxFailedResults: 1})
	if err != nil {
		panic(err)
	}
	defer b.Close(ctx)

	failed, err := retainedDouble.Enqueue(ctx, b, -1)
	if err != nil {
		panic(err)
	}
	var ok []localtasks.Handle[int]
	for i := range 3 { // more successes than MaxResults
		h, err := retainedDouble.Enqueue(ctx, b, i)
		if err != nil {
			panic(err)
		}
		ok = append(ok, h)
	}
	res, err := failed.Result(ctx)
	fmt.Println("the failure:", res.Status, err)
	_, err = ok[0].Result(ctx)
	fmt.Println("the oldest success evicted:", errors.Is(err, localtasks.ErrResultNotFound))

	// sendNotice's result reaches the subscribers, then it is gone.
	sub := b.Subscribe(8)
	defer sub.Close()
	h, err := sendNotice.Enqueue(ctx, b, "ops")
	if err != nil {
		panic(err)
	}
	for ev := range sub.C() {
		if ev.Kind == localtasks.EventFinished {
			fmt.Println("finished:", ev.Result.Status, ev.Result.Value)
			break
		}
	}
	_, err = h.Result(ctx)
	fmt.Println("sendNotice's result kept:", !errors.Is(err, localtasks.ErrResultNotFound))
	// Output:
	// the failure: FAILED <nil>
	// the oldest success evicted: true
	// finished: SUCCESSFUL sent to ops
	// sendNotice's result kept: false
}
