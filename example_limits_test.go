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

// crmCalls counts, per customer, the calls to the CRM running now and the
// most seen at once, across the tasks that call it.
var crmCalls struct {
	sync.Mutex
	running, most map[string]int
}

func callCRM(customer string) {
	crmCalls.Lock()
	crmCalls.running[customer]++
	crmCalls.most[customer] = max(crmCalls.most[customer], crmCalls.running[customer])
	crmCalls.Unlock()
	crmCalls.Lock()
	crmCalls.running[customer]--
	crmCalls.Unlock()
}

type contactsArgs struct{ Customer string }
type ordersArgs struct {
	Customer string
	Since    int
}

// The CRM takes one call per customer at a time, whichever task makes it:
// both tasks' limits name the group "crm", so they share its budget.
var (
	crmLimit     = localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer", Group: "crm"})
	syncContacts = localtasks.Define("example.limits.contacts", func(ctx context.Context, a contactsArgs) (struct{}, error) {
		callCRM(a.Customer)
		return struct{}{}, nil
	}, crmLimit)
	syncOrders = localtasks.Define("example.limits.orders", func(ctx context.Context, a ordersArgs) (struct{}, error) {
		callCRM(a.Customer)
		return struct{}{}, nil
	}, crmLimit)
)

func ExampleConcurrencyLimit_group() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	crmCalls.running, crmCalls.most = map[string]int{}, map[string]int{}

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		panic(err)
	}
	for i := range 10 {
		for _, customer := range []string{"acme", "globex"} {
			if _, err := syncContacts.Enqueue(ctx, pool, contactsArgs{customer}); err != nil {
				panic(err)
			}
			if _, err := syncOrders.Enqueue(ctx, pool, ordersArgs{customer, i}); err != nil {
				panic(err)
			}
		}
	}
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}
	crmCalls.Lock()
	for _, customer := range slices.Sorted(maps.Keys(crmCalls.most)) {
		fmt.Println(customer, "at most", crmCalls.most[customer], "call at once")
	}
	crmCalls.Unlock()

	// A task that gives the group another budget is refused.
	_, err = localtasks.NewTask("example.limits.invoices", func(ctx context.Context, a contactsArgs) (struct{}, error) { return struct{}{}, nil },
		localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 5, Per: "Customer", Group: "crm"}))
	fmt.Println(err != nil)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// acme at most 1 call at once
	// globex at most 1 call at once
	// true
}

type signupArgs struct {
	Email string
	IP    string
}

// Two cooldowns: at most one welcome email an hour per address, and per
// IP address; an enqueue must be outside both windows.
var sendWelcome = localtasks.Define("example.limits.welcome",
	func(ctx context.Context, a signupArgs) (struct{}, error) { return struct{}{}, nil },
	localtasks.WithCooldown(localtasks.Cooldown{Window: time.Hour, Per: "Email"}),
	localtasks.WithCooldown(localtasks.Cooldown{Window: time.Hour, Per: "IP"}),
)

func ExampleWithCooldown_several() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	for _, a := range []signupArgs{
		{"ann@example.com", "10.0.0.1"},
		{"ann@example.com", "10.0.0.2"}, // the same address
		{"bob@example.com", "10.0.0.1"}, // the same IP
		{"bob@example.com", "10.0.0.3"}, // the drops above opened no window
	} {
		hd, err := sendWelcome.Enqueue(ctx, pool, a)
		if err != nil {
			panic(err)
		}
		fmt.Println(a.Email, a.IP, hd.Disposition())
	}
	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// ann@example.com 10.0.0.1 enqueued
	// ann@example.com 10.0.0.2 dropped
	// bob@example.com 10.0.0.1 dropped
	// bob@example.com 10.0.0.3 enqueued
}
