package sqlitejournal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// The calls a backend makes on its journal, made here by hand: claim it,
// load what it holds, commit a batch.
func Example() {
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	j, err := sqlitejournal.Open(filepath.Join(dir, "tasks.db"))
	if err != nil {
		panic(err)
	}
	defer j.Close()
	var journal localtasks.Journal = j // what a Config takes

	ctx := context.Background()
	format, err := journal.Open(ctx, "mail", localtasks.JournalFormat)
	if err != nil {
		panic(err)
	}
	fmt.Println("format:", format)

	err = journal.Commit(ctx, &localtasks.JournalBatch{Runs: []localtasks.JournalRun{{
		ID:         "3f1c1a9e-6a43-4a35-9d3c-1a2b3c4d5e6f",
		Task:       "mail.send",
		Queue:      "default",
		Status:     localtasks.StatusReady,
		EnqueuedAt: time.Now(),
		Args:       []byte("gob bytes"),
	}}})
	if err != nil {
		panic(err)
	}

	err = journal.Load(ctx, func(r *localtasks.JournalRun) error {
		fmt.Println("run:", r.ID, r.Task, r.Status, string(r.Args), r.FinishedAt.IsZero())
		return nil
	}, func(s *localtasks.JournalStrike) error {
		fmt.Println("strike:", s.Key)
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// format: 1
	// run: 3f1c1a9e-6a43-4a35-9d3c-1a2b3c4d5e6f mail.send READY gob bytes true
}
