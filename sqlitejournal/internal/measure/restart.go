package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/localtasks/localtasks"
)

// mailArgs and the task are what restart's backend runs: a small argument,
// as smallArgs stands for, and a short string back.
type mailArgs struct{ To string }

var sendMail = localtasks.Define("measure.mail", func(ctx context.Context, a mailArgs) (string, error) {
	return "sent to " + a.To, nil
})

// restart measures a backend's restart on a journal of n runs: it fills the
// journal through a thread pool (JournalBatched), the last unfinished ones
// scheduled a day ahead (unless the file exists: then it was filled by an
// earlier restart, and is measured again), closes the pool, and times the build of a new
// pool on the journal, which takes every run back. It reports that time
// and the heap the runs take in memory then.
func restart(path string, n, unfinished int) error {
	ctx := context.Background()
	cfg := localtasks.Config{Name: "measure", MaxResults: n, JournalMode: localtasks.JournalBatched}
	fillStart := time.Now()
	if _, err := os.Stat(path); err != nil { // a file measured before is measured again
		j, err := open(path)
		if err != nil {
			return err
		}
		cfg.Journal = j
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg, MaxWorkers: 8})
		if err != nil {
			return err
		}
		later := sendMail.Using(localtasks.WithDelay(24 * time.Hour))
		for i := range n {
			t := sendMail
			if i >= n-unfinished {
				t = later
			}
			if _, err := t.Enqueue(ctx, b, mailArgs{To: fmt.Sprintf("user%d@example.com", i)}); err != nil {
				return err
			}
		}
		for b.Counters().Succeeded < uint64(n-unfinished) {
			time.Sleep(10 * time.Millisecond) // a measuring tool, polling: Drain would wait for the scheduled runs too
		}
		if err := b.Close(ctx); err != nil {
			return err
		}
		if err := j.Close(); err != nil {
			return err
		}
	}
	filled := time.Since(fillStart)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	cpu0 := time.Duration(syscall.TimevalToNsec(ru0.Utime) + syscall.TimevalToNsec(ru0.Stime))
	start := time.Now()
	j, err := open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	cfg.Journal = j
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg, MaxWorkers: 8})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	defer b.Close(ctx)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	snap, err := b.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	if err != nil {
		return err
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(syscall.TimevalToNsec(ru.Utime)+syscall.TimevalToNsec(ru.Stime)) - cpu0
	fmt.Printf("restart cpu=%v runs=%d scheduled=%d finished=%d fill=%v restart=%v runs/s=%.0f heap=%.1fMiB (%.0f B/run) peak_rss=%.1fMiB\n",
		cpu.Round(time.Millisecond), n, snap.Counts.Scheduled, snap.Counts.Successful, filled.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20),
		float64(after.HeapAlloc-before.HeapAlloc)/float64(n), float64(ru.Maxrss)/1024)
	return nil
}
