// Command with is the smallest program that runs a thread pool with a
// journal: MEASUREMENTS.md compares its binary with that of without.
package main

import (
	"context"
	"log"
	"os"
	"path/filepath"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

func main() {
	j, err := sqlitejournal.Open(filepath.Join(os.TempDir(), "minimal-journal.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Journal: j}})
	if err != nil {
		log.Fatal(err)
	}
	if err := pool.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
}
