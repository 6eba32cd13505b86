package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

// TestMain makes the test binary serve as the bench binary's children too:
// a process-pool worker (Init), or a measuring child, when the harness
// starts it with childEnv set.
func TestMain(m *testing.M) {
	localtasks.Init()
	if os.Getenv(childEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// ants starts a default pool, with its two goroutines, when its
	// package initialises: the peer's, not a leak of ours.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

// TestWorkloadsTiny runs every system of every workload once, at a tiny
// size, through the child mechanism, and checks the results are sane.
func TestWorkloadsTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process for every system")
	}
	r, err := newRunner(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	for _, w := range workloads {
		t.Run(w.id, func(t *testing.T) {
			p := w.sizes[sizeTiny]
			m, notes, err := r.runWorkload(context.Background(), w, p, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range notes {
				t.Log(n)
			}
			for _, s := range w.systems {
				st, ok := m[s.name]
				if !ok {
					if s.python != nil && r.python == "" {
						continue
					}
					t.Fatalf("%s was not measured", s.name)
				}
				if st.tasks <= 0 || st.seconds <= 0 || st.runs != 1 {
					t.Errorf("%s: tasks %d, seconds %v, runs %d", s.name, st.tasks, st.seconds, st.runs)
				}
				if w.id != "W6" && w.id != "W7" && !(w.id == "W10" && s.name == "idle-streams") && !(w.id == "W8" && s.name == "localtasks-1producer") && st.tasks != p.N {
					t.Errorf("%s: %d tasks, want %d", s.name, st.tasks, p.N)
				}
				if w.id == "W6" && st.tasks != w6Submitters*p.N {
					t.Errorf("%s: %d tasks, want %d", s.name, st.tasks, w6Submitters*p.N)
				}
				if st.rssMiB <= 0 {
					t.Errorf("%s: no peak RSS from the child's rusage", s.name)
				}
				if st.extra["lost"] != 0 {
					t.Errorf("%s: %v lost results", s.name, st.extra["lost"])
				}
			}
			rows, _ := evaluate(w, m, p)
			if len(rows) < len(m) {
				t.Errorf("%d rows for %d systems", len(rows), len(m))
			}
		})
	}
}

// TestSHAMatchesPython checks the Go and Python sides hash the same chain.
func TestSHAMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	r, err := newRunner(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	out, err := exec.Command(py, r.script, "sha", "7", "10").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"value": ` + strconv.FormatUint(shaChain(7, 10), 10) + `}`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("peers.py sha 7 10 = %s, want %s", got, want)
	}
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-w", "W99"}, {"-runs", "-1"}, {"-nosuchflag"}} {
		if code := run(args, nil, io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
	if code := run([]string{"-child", "W1/nosuch"}, nil, io.Discard, io.Discard); code != 1 {
		t.Errorf("an unknown child system gave exit code %d, want 1", code)
	}
}

func TestSelectWorkloads(t *testing.T) {
	t.Parallel()
	ws, err := selectWorkloads("w4, W1")
	if err != nil || len(ws) != 2 || ws[0].id != "W4" || ws[1].id != "W1" {
		t.Fatalf("selectWorkloads = %v, %v", ws, err)
	}
	if ws, _ := selectWorkloads(""); len(ws) != len(workloads) {
		t.Errorf("all workloads: %d, want %d", len(ws), len(workloads))
	}
}
