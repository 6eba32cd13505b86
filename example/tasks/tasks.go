// Package tasks holds the example programs' task definitions, so that the
// quick start (example/quickstart, on a goroutine pool and a process pool)
// and the distributed example (example/distributed, on River and
// PostgreSQL) run the very same code: only the backend differs.
//
// Both tasks' arguments and results are plain strings and a struct of
// exported string and int fields: gob carries them to a process pool's
// workers, and JSON to River's.
package tasks

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/localtasks/localtasks"
)

// Page is what a fetch returns.
type Page struct {
	URL   string
	Bytes int
}

// Fetch is the task: defined once, at package level, under a stable name. A
// failed attempt is tried again after 100ms, up to 3 attempts in all, and no
// attempt may run longer than 2s.
var Fetch = localtasks.Define("quickstart.fetch", fetch,
	localtasks.WithRetry(localtasks.FixedRetry(3, 100*time.Millisecond)),
	localtasks.WithTimeout(2*time.Second),
)

// flaky pages answer 503 to their first request.
var flaky = map[string]bool{"https://example.com/page/7": true, "https://example.com/page/15": true}

// fetch pretends to download url: it waits 50 to 300ms, the same for a URL
// every run, or until its ctx ends.
func fetch(ctx context.Context, url string) (Page, error) {
	h := fnv.New32a()
	h.Write([]byte(url))
	t := time.NewTimer(time.Duration(50+h.Sum32()%251) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return Page{}, ctx.Err() // cancelled, or timed out
	}
	if flaky[url] && localtasks.Attempt(ctx) == 1 {
		return Page{}, fmt.Errorf("GET %s: 503 Service Unavailable", url)
	}
	return Page{URL: url, Bytes: int(h.Sum32() % 50_000)}, nil
}

// Digest is a CPU-bound task: 200,000 rounds of SHA-256 chained over a seed.
// It returns the digest's start and the PID of the process that did the work.
var Digest = localtasks.Define("quickstart.digest", func(ctx context.Context, seed string) (string, error) {
	sum := sha256.Sum256([]byte(seed))
	for range 200_000 {
		sum = sha256.Sum256(sum[:])
	}
	return fmt.Sprintf("%x (pid %d)", sum[:6], os.Getpid()), nil
})
