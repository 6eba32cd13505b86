package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// ErrNoSuchAccount is a sentinel error, registered so that errors.Is finds
// it on a run that failed in a process pool's worker too.
var ErrNoSuchAccount = errors.New("no such account")

// RateLimitedError says how long the remote service asked us to wait;
// registered so that errors.As finds it, with its field, across processes.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %v", e.RetryAfter)
}

func init() {
	localtasks.RegisterErrors(ErrNoSuchAccount)
	localtasks.RegisterErrorType[*RateLimitedError]()
}

// syncAccount fails as its argument says: a missing account is final,
// a rate limit says when to come back.
var syncAccount = localtasks.Define("example.control.sync",
	func(ctx context.Context, account string) (string, error) {
		switch {
		case account == "ghost":
			return "", localtasks.Permanent(fmt.Errorf("account %q: %w", account, ErrNoSuchAccount))
		case account == "busy" && localtasks.Attempt(ctx) == 1:
			return "", &RateLimitedError{RetryAfter: 20 * time.Millisecond}
		}
		return "synced " + account, nil
	},
	localtasks.WithRetry(localtasks.RetryPolicy{
		MaxAttempts: 5, Delay: time.Millisecond,
		// Decide has the last word on each retry: here, wait as long as the
		// service asked, whatever the policy's own backoff says.
		Decide: func(attempt int, err error, wait time.Duration) (bool, time.Duration) {
			if rl, ok := errors.AsType[*RateLimitedError](err); ok {
				return true, rl.RetryAfter
			}
			return true, wait
		},
	}),
)

// Permanent fails a run at once, whatever retries its policy has left.
func ExamplePermanent() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := syncAccount.Enqueue(ctx, pool, "ghost")
	if err != nil {
		panic(err)
	}
	_, err = h.Wait(ctx)
	res, _ := h.Result(ctx)
	fmt.Println(err)
	fmt.Println("no such account:", errors.Is(err, ErrNoSuchAccount), "attempts:", res.Attempts)
	// Output:
	// account "ghost": no such account
	// no such account: true attempts: 1
}

// A RetryPolicy's Decide picks the wait before a retry by the error: here
// the one a rate-limited service asked for.
func ExampleRetryPolicy_decide() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := syncAccount.Enqueue(ctx, pool, "busy")
	if err != nil {
		panic(err)
	}
	out, err := h.Wait(ctx)
	res, _ := h.Result(ctx)
	fmt.Println(out, err)
	fmt.Println("attempts:", res.Attempts, "waited at least 20ms:", res.LastAttemptedAt.Sub(res.Errors[0].At) >= 20*time.Millisecond)
	// Output:
	// synced busy <nil>
	// attempts: 2 waited at least 20ms: true
}

// awaitExport snoozes while the export it waits for is not ready: each
// snooze runs it again later without spending one of its attempts.
var awaitExport = localtasks.Define("example.control.await",
	func(ctx context.Context, export string) (string, error) {
		if localtasks.Attempt(ctx) <= 3 { // stands for "the export is not ready yet"
			return "", localtasks.Snooze(5 * time.Millisecond)
		}
		return export + " is ready", nil
	})

// Snooze runs a task again later, without counting a failed attempt: a run
// with no retries at all can snooze as often as it needs.
func ExampleSnooze() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := awaitExport.Enqueue(ctx, pool, "export-7")
	if err != nil {
		panic(err)
	}
	out, err := h.Wait(ctx)
	res, _ := h.Result(ctx)
	fmt.Println(out, err)
	fmt.Println("attempts:", res.Attempts, "errors:", len(res.Errors))
	// Output:
	// export-7 is ready <nil>
	// attempts: 4 errors: 0
}

// crawl extends its timeout by a step each time it completes one, so that
// a slow but progressing crawl is not cut, and a stuck one still is.
var crawl = localtasks.Define("example.control.crawl",
	func(ctx context.Context, pages int) (int, error) {
		for i := range pages {
			if err := ctx.Err(); err != nil {
				return i, err
			}
			// ... fetch page i ...
			if err := localtasks.ExtendTimeout(ctx, time.Second); err != nil {
				return i, err
			}
		}
		return pages, nil
	}, localtasks.WithTimeout(time.Second))

// ExtendTimeout moves the current attempt's timeout, from inside the task.
func ExampleExtendTimeout() {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := crawl.Enqueue(ctx, pool, 3)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Wait(ctx))
	// Output: 3 <nil>
}

// Errors registered with RegisterErrors and RegisterErrorType keep their
// identity when the task ran in a worker process: errors.Is and errors.As
// match them as they would on the thread pool.
func ExampleRegisterErrors() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err) // on Windows: errors.ErrUnsupported
	}
	defer procs.Close(ctx)

	h, err := syncAccount.Enqueue(ctx, procs, "ghost")
	if err != nil {
		panic(err)
	}
	_, err = h.Wait(ctx)
	fmt.Println(err)
	fmt.Println("errors.Is across processes:", errors.Is(err, ErrNoSuchAccount))
	// Output:
	// account "ghost": no such account
	// errors.Is across processes: true
}
