package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
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
				if w.id != "W6" && w.id != "W7" && !(w.id == "W10" && s.name == "idle-streams") && !(w.id == "W8" && s.name == "localtasks-1producer") && st.tasks != s.params(p).N {
					t.Errorf("%s: %d tasks, want %d", s.name, st.tasks, s.params(p).N)
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

// TestRiverSystems checks W1's River systems: present only with a database
// URL, each run at N/riverDiv, and the adapter compared with River's own
// client.
func TestRiverSystems(t *testing.T) {
	t.Setenv(pgURLEnv, "")
	if ss := riverSystems(8); len(ss) != 0 {
		t.Fatalf("without $%s: %d River systems, want none", pgURLEnv, len(ss))
	}
	t.Setenv(pgURLEnv, "postgres://unused")
	var names []string
	for _, s := range riverSystems(8) {
		names = append(names, s.name)
		if got := s.params(params{N: 20_000}).N; got != 20_000/riverDiv {
			t.Errorf("%s runs %d of 20,000 tasks, want %d", s.name, got, 20_000/riverDiv)
		}
		if got := s.params(params{N: 3}).N; got != 1 {
			t.Errorf("%s runs %d of 3 tasks, want 1", s.name, got)
		}
	}
	if want := []string{"localtasks-river", "localtasks-river-each", "river-raw"}; !slices.Equal(names, want) {
		t.Errorf("River systems %q, want %q", names, want)
	}
	if got := (system{name: "pond"}).params(params{N: 20_000}).N; got != 20_000 {
		t.Errorf("pond runs %d of 20,000 tasks", got)
	}
	for _, tg := range w1().targets {
		if tg.subject == "localtasks-river" && tg.vs == "river-raw" && tg.min == 0.9 {
			return
		}
	}
	t.Error("W1 has no target of localtasks-river >= 0.9x river-raw")
}
