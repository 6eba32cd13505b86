// Command without is the smallest program that runs a thread pool, without
// a journal: MEASUREMENTS.md compares its binary with that of with.
package main

import (
	"context"
	"log"

	"github.com/localtasks/localtasks"
)

func main() {
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := pool.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
}
