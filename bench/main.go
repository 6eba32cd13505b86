// Command bench measures localtasks side by side with its peers on the
// workloads W1..W10 of BENCHMARKS.md, and prints a table of throughput, peak
// RSS and each target's ratio, PASS or MISS.
//
//	cd bench && go run .              # the full size, 5 interleaved runs
//	go run . -quick                   # scaled down, 3 runs, under a minute
//	go run . -json -w W1,W4           # JSON lines, some workloads
//	go run . -svg ../docs/performance.svg
//
// Each measurement runs in a child process of its own: the bench binary run
// again with the hidden flag -child, or python3 for the Python peers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

func main() {
	localtasks.Init() // first: a process-pool worker serves tasks here
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: the parent, or with -child a measuring child.
// It returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON object a line instead of the table")
	quick := fs.Bool("quick", false, "scale every workload down, to finish in under a minute")
	runs := fs.Int("runs", 0, "interleaved runs of each system (default 5, with -quick 3)")
	only := fs.String("w", "", "comma-separated workloads to run, such as W1,W4 (default all)")
	svg := fs.String("svg", "", "write an SVG chart of W1, W4 and W7 to this file")
	// Hidden: the flags of a measuring child.
	child := fs.String("child", "", "")
	n := fs.Int("n", 0, "")
	rounds := fs.Int("rounds", 0, "")
	dur := fs.Duration("dur", 0, "")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run . [-quick] [-json] [-runs N] [-w W1,W4] [-svg FILE]")
		for _, name := range []string{"quick", "json", "runs", "w", "svg"} {
			f := fs.Lookup(name)
			fmt.Fprintf(stderr, "  -%s\n    \t%s\n", f.Name, f.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *child != "" {
		if err := runChild(*child, params{N: *n, Rounds: *rounds, Dur: *dur}, stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "bench child:", err)
			return 1
		}
		return 0
	}

	sz := sizeFull
	if *quick {
		sz = sizeQuick
	}
	if *runs == 0 {
		*runs = 5
		if *quick {
			*runs = 3
		}
	}
	if *runs < 1 {
		fmt.Fprintln(stderr, "bench: -runs must be at least 1")
		return 2
	}
	selected, err := selectWorkloads(*only)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	cfg := benchConfig{size: sz, runs: *runs, json: *jsonOut, svg: *svg}
	if err := bench(context.Background(), cfg, selected, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// selectWorkloads parses -w.
func selectWorkloads(list string) ([]*workload, error) {
	if strings.TrimSpace(list) == "" {
		return workloads, nil
	}
	var out []*workload
	for _, id := range strings.Split(list, ",") {
		w := findWorkload(strings.TrimSpace(id))
		if w == nil {
			return nil, fmt.Errorf("unknown workload %q in -w: use one of BENCHMARKS.md's workloads, W1 to W10", id)
		}
		out = append(out, w)
	}
	return out, nil
}

type benchConfig struct {
	size size
	runs int
	json bool
	svg  string
}

// bench runs the selected workloads and reports them: JSON lines as each
// workload finishes, or the table at the end.
func bench(ctx context.Context, cfg benchConfig, selected []*workload, stdout, log io.Writer) error {
	r, err := newRunner(log)
	if err != nil {
		return err
	}
	defer r.close()
	if r.python == "" {
		fmt.Fprintln(log, "note: python3 is not installed: the Python peers are skipped")
	}
	start := time.Now()
	var rows []row
	var notes []string
	for _, w := range selected {
		p := w.sizes[cfg.size]
		m, skipped, err := r.runWorkload(ctx, w, p, cfg.runs)
		if err != nil {
			return err
		}
		wr, wn := evaluate(w, m, p)
		rows = append(rows, wr...)
		notes = append(notes, skipped...)
		notes = append(notes, wn...)
		if cfg.json {
			if err := writeJSON(stdout, wr); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(log, "bench: %d workloads in %.1fs\n", len(selected), time.Since(start).Seconds())
	if !cfg.json {
		if err := writeTable(stdout, rows, selected, cfg.runs, notes); err != nil {
			return err
		}
	} else {
		for _, n := range notes {
			fmt.Fprintln(log, "note:", n)
		}
	}
	if cfg.svg != "" {
		f, err := os.Create(cfg.svg)
		if err != nil {
			return err
		}
		if err := writeSVG(f, rows); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
