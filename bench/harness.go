package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// childEnv is set in the environment of every child the harness starts. The
// bench binary reads its -child flag anyway; a test binary, whose flags are
// the testing package's, checks childEnv in TestMain and then parses the
// same flags as the bench binary.
const childEnv = "LTBENCH_CHILD"

// cpuProfileEnv, set to a file name in the environment of a child run by
// hand, makes it write a CPU profile of its measurement there:
//
//	go build -o /tmp/bench . && LTBENCH_CHILD=1 LTBENCH_CPUPROFILE=/tmp/cpu.out /tmp/bench -child W8/localtasks-batched -n 100000
//	go tool pprof -top /tmp/bench /tmp/cpu.out
const cpuProfileEnv = "LTBENCH_CPUPROFILE"

// startCPUProfile starts a CPU profile to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// peersPy is the Python side: concurrent.futures running the same work.
//
//go:embed peers.py
var peersPy []byte

// params sizes one measurement of a workload.
type params struct {
	// N is the number of tasks; for W6, per submitting goroutine.
	N int
	// Rounds is the SHA-256 rounds of a CPU task (W3, W7).
	Rounds int
	// Dur is how long the W7 client measures.
	Dur time.Duration
}

// size picks one of a workload's sizes.
type size int

const (
	sizeFull size = iota
	sizeQuick
	sizeTiny // for the tests
)

// measurement is what a child prints on stdout, as JSON: one run of one
// system.
type measurement struct {
	Tasks   int                `json:"tasks"`
	Seconds float64            `json:"seconds"`
	Extra   map[string]float64 `json:"extra,omitempty"`
}

// system is one thing measured in a workload: localtasks or a peer.
type system struct {
	name string
	// run runs the system once, in a child process of its own.
	run func(ctx context.Context, p params) (measurement, error)
	// python, instead of run, is the arguments of peers.py before the
	// sizes: the child is python3 itself.
	python []string
	// div, if above 1, divides the workload's N for this system: the River
	// systems, whose tasks are database round trips.
	div int
}

// params are the sizes s is measured at in a workload sized p.
func (s system) params(p params) params {
	if s.div > 1 {
		p.N = max(1, p.N/s.div)
	}
	return p
}

// workload is one of BENCHMARKS.md's W1..W7.
type workload struct {
	id, title string
	sizes     [3]params // by size
	systems   []system
	targets   []target
	// legend says what the workload measures and how its ratios are
	// defined, under the table.
	legend string
}

// workloads lists W1..W10 in order; each is built in its own file.
var workloads = []*workload{w1(), w2(), w3(), w4(), w5(), w6(), w7(), w8(), w9(), w10()}

// childRoles are children that measure nothing: the far end of the W4 gob
// floor. They run with -child role/<name>.
var childRoles = map[string]func(stdin io.Reader, stdout io.Writer) error{
	"gob-echo": gobEcho,
}

func findWorkload(id string) *workload {
	for _, w := range workloads {
		if strings.EqualFold(w.id, id) {
			return w
		}
	}
	return nil
}

func (w *workload) system(name string) (system, bool) {
	for _, s := range w.systems {
		if s.name == name {
			return s, true
		}
	}
	return system{}, false
}

// runChild runs one measurement in this process, the child, and prints it as
// JSON on stdout. spec is "W1/pond", or "role/gob-echo".
func runChild(spec string, p params, stdin io.Reader, stdout io.Writer) error {
	wid, name, ok := strings.Cut(spec, "/")
	if !ok {
		return fmt.Errorf("bad -child %q: want workload/system", spec)
	}
	if wid == "role" {
		role, ok := childRoles[name]
		if !ok {
			return fmt.Errorf("unknown child role %q", name)
		}
		return role(stdin, stdout)
	}
	w := findWorkload(wid)
	if w == nil {
		return fmt.Errorf("unknown workload %q", wid)
	}
	s, ok := w.system(name)
	if !ok || s.run == nil {
		return fmt.Errorf("workload %s has no Go system %q", w.id, name)
	}
	if path := os.Getenv(cpuProfileEnv); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	self0, children0 := cpuTimes()
	m, err := s.run(context.Background(), p)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", w.id, s.name, err)
	}
	self1, children1 := cpuTimes()
	addCPU(&m, w.id, self1-self0, children1-children0)
	return json.NewEncoder(stdout).Encode(m)
}

// addCPU adds to m the CPU time a task took, in microseconds: "cpu_us", of
// the measuring process and the children it waited for (a process pool's
// workers, and Python's), and "workers_cpu_us", of those children alone,
// where there are any. It counts the setup and the close of the system
// too, which on thousands of tasks is little; W7, whose tasks are requests
// answered beside a background load, has none.
func addCPU(m *measurement, workload string, self, children float64) {
	if workload == "W7" || m.Tasks == 0 || self+children <= 0 {
		return
	}
	if m.Extra == nil {
		m.Extra = make(map[string]float64)
	}
	m.Extra["cpu_us"] = (self + children) / float64(m.Tasks) * 1e6
	if children > 0 {
		m.Extra["workers_cpu_us"] = children / float64(m.Tasks) * 1e6
	}
}

// childArgs are the flags that make the bench binary a measuring child.
func childArgs(spec string, p params) []string {
	return []string{"-child", spec, "-n", strconv.Itoa(p.N), "-rounds", strconv.Itoa(p.Rounds), "-dur", p.Dur.String()}
}

// runner starts children and reads their results and rusage.
type runner struct {
	exe     string        // the bench binary (or the test binary)
	python  string        // python3's path; "" if missing
	script  string        // peers.py written to a temp file; "" if no python
	timeout time.Duration // per child
	log     io.Writer     // progress and notes
}

// newRunner finds the binary and python3, and writes peers.py out. Call
// close to remove it.
func newRunner(log io.Writer) (*runner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the bench binary to re-execute: %w", err)
	}
	r := &runner{exe: exe, timeout: 10 * time.Minute, log: log}
	if py, err := exec.LookPath("python3"); err == nil {
		dir, err := os.MkdirTemp("", "ltbench")
		if err != nil {
			return nil, err
		}
		r.script = filepath.Join(dir, "peers.py")
		if err := os.WriteFile(r.script, peersPy, 0o644); err != nil {
			return nil, err
		}
		r.python = py
	}
	return r, nil
}

func (r *runner) close() {
	if r.script != "" {
		os.RemoveAll(filepath.Dir(r.script))
	}
}

// command builds the child process that measures s once.
func (r *runner) command(ctx context.Context, w *workload, s system, p params) (*exec.Cmd, error) {
	if s.python != nil {
		if r.python == "" {
			return nil, errNoPython
		}
		args := append([]string{r.script}, s.python...)
		args = append(args, strconv.Itoa(p.N), strconv.Itoa(p.Rounds))
		return exec.CommandContext(ctx, r.python, args...), nil
	}
	cmd := exec.CommandContext(ctx, r.exe, childArgs(w.id+"/"+s.name, p)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd, nil
}

var errNoPython = errors.New("python3 is not installed")

// sample is one measurement with the child's peak RSS.
type sample struct {
	measurement
	rssMiB float64
}

// measure runs s once in a child process and reads its result from stdout
// and its peak RSS from its rusage.
func (r *runner) measure(ctx context.Context, w *workload, s system, p params) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd, err := r.command(ctx, w, s, s.params(p))
	if err != nil {
		return sample{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s/%s: child failed: %v\n%s", w.id, s.name, err, tail(stderr.String(), 2000))
	}
	m, err := parseMeasurement(stdout.Bytes())
	if err != nil {
		return sample{}, fmt.Errorf("%s/%s: %v\nstdout: %s\nstderr: %s", w.id, s.name, err, tail(stdout.String(), 500), tail(stderr.String(), 2000))
	}
	return sample{measurement: m, rssMiB: maxRSSMiB(cmd.ProcessState)}, nil
}

// parseMeasurement takes the last line of out that is a JSON object.
func parseMeasurement(out []byte) (measurement, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m measurement
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return m, fmt.Errorf("child printed a bad result %q: %v", line, err)
		}
		if m.Tasks <= 0 || m.Seconds <= 0 {
			return m, fmt.Errorf("child printed an empty result %q", line)
		}
		return m, nil
	}
	return measurement{}, errors.New("child printed no result")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stats aggregates the runs of one system: the median seconds, the largest
// peak RSS, and the median of each extra figure (the largest for "lost").
type stats struct {
	system  string
	tasks   int
	seconds float64
	rssMiB  float64
	runs    int
	extra   map[string]float64
}

func (s stats) tasksPerSec() float64 {
	if s.seconds <= 0 {
		return 0
	}
	return float64(s.tasks) / s.seconds
}

// worstExtras are extra figures aggregated by their maximum, not their
// median: one lost result in any run is a lost result.
var worstExtras = map[string]bool{"lost": true, "undeleted": true}

func aggregate(name string, samples []sample) stats {
	st := stats{system: name, runs: len(samples), extra: map[string]float64{}}
	if len(samples) == 0 {
		return st
	}
	secs := make([]float64, len(samples))
	extras := map[string][]float64{}
	for i, s := range samples {
		secs[i] = s.Seconds
		st.rssMiB = max(st.rssMiB, s.rssMiB)
		st.tasks = max(st.tasks, s.Tasks)
		for k, v := range s.Extra {
			extras[k] = append(extras[k], v)
		}
	}
	st.seconds = median(secs)
	// W7's tasks are the requests made in a fixed time: take the median
	// run's count, so that tasks/s is that run's rate.
	if n := medianIndex(secs); samples[n].Tasks > 0 {
		st.tasks = samples[n].Tasks
	}
	for k, vs := range extras {
		if worstExtras[k] {
			st.extra[k] = slices.Max(vs)
		} else {
			st.extra[k] = median(vs)
		}
	}
	return st
}

// median of xs; the mean of the middle two for an even count.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianIndex is the index in xs of its (lower) median element.
func medianIndex(xs []float64) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	return idx[(len(idx)-1)/2]
}

// percentile of sorted durations, p from 0 to 100, in microseconds.
func percentileUS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)))
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Microsecond)
}

// runWorkload measures every system of w runs times, interleaved: run 1 of
// each system in turn, then run 2, and so on. Python systems are skipped
// with a note when python3 is missing.
func (r *runner) runWorkload(ctx context.Context, w *workload, p params, runs int) (map[string]stats, []string, error) {
	var notes []string
	samples := map[string][]sample{}
	var order []system
	for _, s := range w.systems {
		if s.python != nil && r.python == "" {
			notes = append(notes, fmt.Sprintf("%s: %s skipped: python3 is not installed", w.id, s.name))
			continue
		}
		order = append(order, s)
	}
	for i := range runs {
		for _, s := range order {
			smp, err := r.measure(ctx, w, s, p)
			if err != nil {
				return nil, notes, err
			}
			fmt.Fprintf(r.log, "%s run %d/%d %-18s %8d tasks %9.4fs %7.1f MiB\n", w.id, i+1, runs, s.name, smp.Tasks, smp.Seconds, smp.rssMiB)
			samples[s.name] = append(samples[s.name], smp)
		}
	}
	out := map[string]stats{}
	for _, s := range order {
		out[s.name] = aggregate(s.name, samples[s.name])
	}
	return out, notes, nil
}
