// Command measure takes the figures of MEASUREMENTS.md: the throughput of
// group commit and of batched commits, the time and memory of a Load of a
// million runs, and the bytes a run takes on disk.
//
//	measure group   -path P -writers N -dur D   one committer, N goroutines waiting for their run
//	measure batched -path P -window W -dur D    commit what is pending every W
//	measure fill    -path P -n N -unfinished U  write N runs, the last U unfinished
//	measure load    -path P                     Load everything; time and peak RSS
//	measure delete  -path P -n N -batch B       delete the first N runs, B a commit
//	measure compact -path P                     Compact
//	measure schema  -path P -n N                bytes a run: rowid table or WITHOUT ROWID
//	measure restart -path P -n N -unfinished U  a thread pool's restart on a journal of N runs it wrote
//
// -fdatasync makes SQLite sync with fdatasync(2) rather than fsync(2).
//
// Each prints one line of figures. It is a measuring tool, not a test:
// run it by hand, on an idle machine if you can.
package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/localtasks/localtasks"
	"modernc.org/sqlite"

	"github.com/localtasks/localtasks/sqlitejournal"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: measure group|batched|fill|load|delete|compact|schema [flags]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	path := fs.String("path", "measure.db", "the journal's file")
	writers := fs.Int("writers", 64, "group: goroutines each waiting for its run to be durable")
	dur := fs.Duration("dur", 5*time.Second, "group, batched: how long to run")
	window := fs.Duration("window", localtasks.JournalWindowDefault, "batched: the commit period")
	n := fs.Int("n", 1_000_000, "fill, delete, schema: runs")
	unfinished := fs.Int("unfinished", 300_000, "fill: how many of the last runs are unfinished")
	batch := fs.Int("batch", 10_000, "fill, delete: runs a commit")
	fdatasync := fs.Bool("fdatasync", false, "sync with fdatasync(2) rather than fsync(2) (sqlite.Fdatasync)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	fs.Parse(os.Args[2:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *fdatasync {
		if _, err := sqlite.Fdatasync(true); err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
	}
	var err error
	switch cmd {
	case "group":
		err = group(*path, *writers, *dur)
	case "batched":
		err = batched(*path, *window, *dur)
	case "fill":
		err = fill(*path, *n, *unfinished, *batch)
	case "load":
		err = load(*path)
	case "delete":
		err = deleteRuns(*path, *n, *batch)
	case "compact":
		err = compact(*path)
	case "schema":
		err = schemas(*path, *n)
	case "restart":
		err = restart(*path, *n, *unfinished)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

// runID returns the ID of run i: a version 4 UUID's form, random-looking
// but the same in every command, so that delete finds what fill wrote.
func runID(i int) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], splitmix(uint64(i)))
	binary.LittleEndian.PutUint64(b[8:], splitmix(uint64(i)+1<<40))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// The blobs of a run with small args, about the sizes the backend writes:
// a gob of a small struct, a gob of a short string, the JSON of options.
var (
	smallArgs   = []byte("\x1f\xff\x81\x03\x01\x01\x04Mail\x01\xff\x82\x00\x01\x01\x01\x02To\x01\x0c\x00\x00\x00\x0f\xff\x82\x01\x0bbob@example\x00")
	smallValue  = []byte("\x0c\xff\x82\x00\x08sent ok!")
	smallDetail = []byte(`{"opts":{"timeout":"30s","retries":3},"worker":"goroutine 17"}`)
)

// run returns run i, finished or not, as the backend would write it.
func run(i int, finished bool, now time.Time) localtasks.JournalRun {
	r := localtasks.JournalRun{
		ID:         runID(i),
		Task:       "mail.send",
		Queue:      "default",
		Status:     localtasks.StatusReady,
		EnqueuedAt: now,
		Args:       smallArgs,
		Detail:     smallDetail,
	}
	if finished {
		r.Status, r.Attempts, r.FinishedAt, r.Value = localtasks.StatusSuccessful, 1, now, smallValue
	}
	return r
}

// open opens and claims the journal at path.
func open(path string) (*sqlitejournal.Journal, error) {
	j, err := sqlitejournal.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := j.Open(context.Background(), "measure", localtasks.JournalFormat); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// request is a run waiting to be committed, and how to tell its writer.
type request struct {
	run  localtasks.JournalRun
	done chan error
}

// group runs writers goroutines, each writing runs one after another and
// waiting for each to be durable, and one committer that takes every run
// pending into one Commit.
func group(path string, writers int, dur time.Duration) error {
	j, err := open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	ctx := context.Background()
	reqs := make(chan request, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var runs int
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			done := make(chan error, 1)
			for i := w; ; i += writers {
				select {
				case <-stop:
					return
				case reqs <- request{run(i, false, time.Now()), done}:
				}
				if err := <-done; err != nil {
					panic(err)
				}
				mu.Lock()
				runs++
				mu.Unlock()
			}
		})
	}
	var commits int
	var lat []time.Duration
	deadline := time.Now().Add(dur)
	start := time.Now()
	var pending []request
	var b localtasks.JournalBatch
	for time.Now().Before(deadline) {
		pending = append(pending[:0], <-reqs)
	drain:
		for {
			select {
			case r := <-reqs:
				pending = append(pending, r)
			default:
				break drain
			}
		}
		b.Runs = b.Runs[:0]
		for _, r := range pending {
			b.Runs = append(b.Runs, r.run)
		}
		t := time.Now()
		err := j.Commit(ctx, &b)
		lat = append(lat, time.Since(t))
		commits++
		for _, r := range pending {
			r.done <- err
		}
	}
	elapsed := time.Since(start)
	close(stop)
	// Answer the writers still waiting to send, so that they see stop.
	go func() {
		for r := range reqs {
			r.done <- nil
		}
	}()
	wg.Wait()
	close(reqs)
	slices.Sort(lat)
	fmt.Printf("group writers=%d runs=%d commits=%d runs/s=%.0f runs/commit=%.1f commit_p50=%v commit_p99=%v\n",
		writers, runs, commits, float64(runs)/elapsed.Seconds(), float64(runs)/float64(commits),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	return nil
}

// batched runs producers that add runs as fast as they can, up to a bound
// of pending runs, and a committer that commits what is pending every
// window, as a JournalBatched backend does.
func batched(path string, window, dur time.Duration) error {
	j, err := open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	const maxPending = 100_000
	var mu sync.Mutex
	room := sync.NewCond(&mu)
	var pending []localtasks.JournalRun
	stopped := false
	var wg sync.WaitGroup
	const producers = 2
	for p := range producers {
		wg.Go(func() {
			for i := p; ; i += producers {
				r := run(i, false, time.Now())
				mu.Lock()
				for len(pending) >= maxPending && !stopped {
					room.Wait()
				}
				if stopped {
					mu.Unlock()
					return
				}
				pending = append(pending, r)
				mu.Unlock()
			}
		})
	}
	ctx := context.Background()
	tick := time.NewTicker(window)
	defer tick.Stop()
	var runs, commits int
	var b localtasks.JournalBatch
	start := time.Now()
	deadline := start.Add(dur)
	for time.Now().Before(deadline) {
		<-tick.C
		mu.Lock()
		b.Runs, pending = pending, b.Runs[:0]
		room.Broadcast()
		mu.Unlock()
		if err := j.Commit(ctx, &b); err != nil {
			return err
		}
		runs += len(b.Runs)
		commits++
	}
	elapsed := time.Since(start)
	mu.Lock()
	stopped = true
	room.Broadcast()
	mu.Unlock()
	wg.Wait()
	fmt.Printf("batched window=%v runs=%d commits=%d runs/s=%.0f runs/commit=%.0f\n",
		window, runs, commits, float64(runs)/elapsed.Seconds(), float64(runs)/float64(commits))
	return nil
}

// fill writes n runs, batch a commit, the first n-unfinished finished.
func fill(path string, n, unfinished, batch int) error {
	j, err := open(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	now := time.Now()
	var b localtasks.JournalBatch
	for i := 0; i < n; i += batch {
		b.Runs = b.Runs[:0]
		for k := i; k < min(n, i+batch); k++ {
			b.Runs = append(b.Runs, run(k, k < n-unfinished, now))
		}
		if err := j.Commit(ctx, &b); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	if err := j.Close(); err != nil {
		return err
	}
	size, err := fileSize(path)
	if err != nil {
		return err
	}
	fmt.Printf("fill runs=%d time=%v runs/s=%.0f bytes=%d bytes/run=%.1f\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), size, float64(size)/float64(n))
	return nil
}

// load loads every run, and reports the time and the peak RSS of the
// process, which did nothing before.
func load(path string) error {
	start := time.Now()
	j, err := open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	var runs, unfinished int
	err = j.Load(context.Background(), func(r *localtasks.JournalRun) error {
		runs++
		if !r.Status.Finished() {
			unfinished++
		}
		return nil
	}, func(*localtasks.JournalStrike) error { return nil })
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("load runs=%d unfinished=%d time=%v runs/s=%.0f peak_rss=%.1fMiB\n",
		runs, unfinished, elapsed.Round(time.Millisecond), float64(runs)/elapsed.Seconds(), float64(ru.Maxrss)/1024)
	return nil
}

// deleteRuns deletes runs 0 to n-1, batch a commit, and reports the file's
// size after, with what the commits' incremental vacuum gave back.
func deleteRuns(path string, n, batch int) error {
	j, err := open(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	var b localtasks.JournalBatch
	for i := 0; i < n; i += batch {
		b.Deleted = b.Deleted[:0]
		for k := i; k < min(n, i+batch); k++ {
			b.Deleted = append(b.Deleted, runID(k))
		}
		if err := j.Commit(ctx, &b); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	var runs int
	if err := j.Load(ctx, func(*localtasks.JournalRun) error { runs++; return nil }, func(*localtasks.JournalStrike) error { return nil }); err != nil {
		return err
	}
	if err := j.Close(); err != nil {
		return err
	}
	return report("delete", path, runs, elapsed)
}

// compact runs Compact on the journal at path.
func compact(path string) error {
	j, err := open(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	if err := j.Compact(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	var runs int
	if err := j.Load(ctx, func(*localtasks.JournalRun) error { runs++; return nil }, func(*localtasks.JournalStrike) error { return nil }); err != nil {
		return err
	}
	if err := j.Close(); err != nil {
		return err
	}
	return report("compact", path, runs, elapsed)
}

// report prints the size and free pages of the journal at path, which
// holds runs.
func report(what, path string, runs int, elapsed time.Duration) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var pages, free int
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		return err
	}
	if err := db.QueryRow(`PRAGMA freelist_count`).Scan(&free); err != nil {
		return err
	}
	size, err := fileSize(path)
	if err != nil {
		return err
	}
	fmt.Printf("%s runs=%d time=%v bytes=%d bytes/run=%.1f pages=%d free_pages=%d\n",
		what, runs, elapsed.Round(time.Millisecond), size, float64(size)/float64(max(runs, 1)), pages, free)
	return nil
}

// fileSize returns the size of the file at path and of its write-ahead
// log.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if wal, err := os.Stat(path + "-wal"); err == nil {
		size += wal.Size()
	}
	return size, nil
}
