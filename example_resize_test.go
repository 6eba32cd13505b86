package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/localtasks/localtasks"
)

// meeting lets the runs of meet wait for each other: none finishes before
// size of them run at once. A thread pool passes its runs' arguments as
// they are, pointers too.
type meeting struct {
	mu      sync.Mutex
	size    int
	arrived int
	all     chan struct{}
}

var meet = localtasks.Define("example.resize.meet", func(ctx context.Context, m *meeting) (string, error) {
	m.mu.Lock()
	if m.arrived++; m.arrived == m.size {
		close(m.all)
	}
	m.mu.Unlock()
	select {
	case <-m.all:
		return "met", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
})

// A pool's workers can be added or retired while it runs: here three runs
// that must run at once wait on a one-worker pool until it grows to three.
// Shrinking retires workers once their runs are done.
func ExampleResizer() {
	ctx := context.Background()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	defer b.Close(ctx)

	// A backend chosen by configuration may have no workers to resize.
	var backend localtasks.Backend = b
	r, ok := backend.(localtasks.Resizer)
	fmt.Println("resizable:", ok, "workers:", r.MaxWorkers())

	m := &meeting{size: 3, all: make(chan struct{})}
	var hs []localtasks.Handle[string]
	for range 3 {
		h, err := meet.Enqueue(ctx, b, m)
		if err != nil {
			panic(err)
		}
		hs = append(hs, h)
	}
	// One worker runs one of them, which waits for the other two.
	if err := r.SetMaxWorkers(3); err != nil {
		panic(err)
	}
	for _, h := range hs {
		v, err := h.Wait(ctx)
		fmt.Println(v, err)
	}

	if err := r.SetMaxWorkers(1); err != nil {
		panic(err)
	}
	fmt.Println("workers:", r.MaxWorkers())
	fmt.Println("zero workers is a config error:", errors.Is(r.SetMaxWorkers(0), localtasks.ErrConfig))
	// Output:
	// resizable: true workers: 1
	// met <nil>
	// met <nil>
	// met <nil>
	// workers: 1
	// zero workers is a config error: true
}
