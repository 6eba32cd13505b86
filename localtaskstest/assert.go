package localtaskstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

// The assertions on what a localtasks.RecordingBackend recorded, like
// rivertest's RequireInserted: typed by the task, failing the test with a
// message that shows what was wanted, what was recorded, and how they
// differ.

// TB is the part of testing.TB the assertions use. *testing.T and
// *testing.B are TBs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// Want narrows the recorded runs an assertion looks at to those with these
// options. A zero field matches every run, and a nil *Want matches every
// run of the task, whatever its status: cancelled ones and those Run ran
// included.
type Want struct {
	// Queue is the run's queue.
	Queue string
	// Priority, unless nil, is the run's priority: new(0) for the default.
	Priority *int
	// Key is the run's key (WithKey; a perpetual task's name).
	Key string
	// Tags are tags the run carries, in any order; it may carry others.
	Tags []string
	// Metadata holds pairs the run carries; it may carry others.
	Metadata map[string]string
	// RunAfter is the run's run-after time (WithRunAt, WithDelay).
	RunAfter time.Time
	// Delay is the run's run-after time less its enqueue time: WithDelay's
	// duration, to the nanosecond.
	Delay time.Duration
	// Deadline is the latest time the run may start (WithDeadline,
	// WithStartWithin).
	Deadline time.Time
	// Status is the run's status now.
	Status localtasks.Status
}

// RequireEnqueued fails the test at once unless rec recorded a run of task
// with args (reflect.DeepEqual) and the options want names; want may be
// nil. It returns the first such run. The failure lists the task's
// recorded runs, each with how it differs from what was wanted.
func RequireEnqueued[A, R any](t TB, rec *localtasks.RecordingBackend, task *localtasks.Task[A, R], args A, want *Want) localtasks.TaskResult {
	t.Helper()
	runs := runsOf(rec, task.Name())
	for _, r := range runs {
		if reflect.DeepEqual(r.Args, any(args)) && len(want.mismatches(&r)) == 0 {
			return r
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "localtaskstest: RequireEnqueued: no recorded run of task %q has the arguments%s wanted\n", task.Name(), want.and())
	fmt.Fprintf(&b, "wanted arguments: %s\n", indent(render(args), "  "))
	if want != nil {
		fmt.Fprintf(&b, "wanted options: %s\n", want)
	}
	describeRuns(&b, rec, task.Name(), runs, func(b *strings.Builder, r *localtasks.TaskResult) {
		for _, m := range want.mismatches(r) {
			fmt.Fprintf(b, "    %s\n", m)
		}
		if !reflect.DeepEqual(r.Args, any(args)) {
			b.WriteString("    arguments (- wanted, + recorded):\n")
			for _, l := range diff(args, r.Args) {
				fmt.Fprintf(b, "      %s\n", l)
			}
		} else {
			b.WriteString("    arguments: as wanted\n")
		}
	})
	fail(t, b.String())
	return localtasks.TaskResult{}
}

// RequireNotEnqueued fails the test at once if rec recorded a run of task,
// with any arguments, that has the options want names; want may be nil,
// for any run of task. The failure lists the runs it found.
func RequireNotEnqueued[A, R any](t TB, rec *localtasks.RecordingBackend, task *localtasks.Task[A, R], want *Want) {
	t.Helper()
	found := matching(runsOf(rec, task.Name()), want, true)
	if len(found) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "localtaskstest: RequireNotEnqueued: want no recorded run of task %q%s, found %d:\n", task.Name(), want.with(), len(found))
	listRuns(&b, found, nil)
	fail(t, b.String())
}

// RequireEnqueuedCount fails the test at once unless rec recorded exactly n
// runs of task, with any arguments, that have the options want names; want
// may be nil, for every run of task. It returns those runs, in the order
// they were recorded. The failure lists them, and the task's other runs
// with how they differ from want.
func RequireEnqueuedCount[A, R any](t TB, rec *localtasks.RecordingBackend, task *localtasks.Task[A, R], n int, want *Want) []localtasks.TaskResult {
	t.Helper()
	runs := runsOf(rec, task.Name())
	found := matching(runs, want, true)
	if len(found) == n {
		return found
	}
	var b strings.Builder
	fmt.Fprintf(&b, "localtaskstest: RequireEnqueuedCount: want %d recorded runs of task %q%s, found %d\n", n, task.Name(), want.with(), len(found))
	if len(found) > 0 {
		b.WriteString("found:\n")
		listRuns(&b, found, nil)
	}
	if others := len(runs) - len(found); others > 0 {
		fmt.Fprintf(&b, "the task's %d other recorded runs:\n", others)
		listRuns(&b, matching(runs, want, false), func(b *strings.Builder, r *localtasks.TaskResult) {
			for _, m := range want.mismatches(r) {
				fmt.Fprintf(b, "    %s\n", m)
			}
		})
	}
	if len(runs) == 0 {
		describeOthers(&b, rec)
	}
	fail(t, b.String())
	return nil
}

func fail(t TB, msg string) {
	t.Helper()
	t.Errorf("%s", strings.TrimSuffix(msg, "\n"))
	t.FailNow()
}

// runsOf returns rec's recorded runs of the task of that name.
func runsOf(rec *localtasks.RecordingBackend, name string) []localtasks.TaskResult {
	return slices.DeleteFunc(rec.Recorded(), func(r localtasks.TaskResult) bool { return r.Task != name })
}

// matching returns the runs that match want, or if not (match false) the
// others, in a slice of its own.
func matching(runs []localtasks.TaskResult, want *Want, match bool) []localtasks.TaskResult {
	var out []localtasks.TaskResult
	for i := range runs {
		if (len(want.mismatches(&runs[i])) == 0) == match {
			out = append(out, runs[i])
		}
	}
	return out
}

// maxListed bounds the runs a failure lists.
const maxListed = 10

// describeRuns writes the recorded runs of task name, each followed by
// what detail writes, or, if there are none, the runs of other tasks.
func describeRuns(b *strings.Builder, rec *localtasks.RecordingBackend, name string, runs []localtasks.TaskResult,
	detail func(*strings.Builder, *localtasks.TaskResult)) {
	if len(runs) == 0 {
		fmt.Fprintf(b, "no run of task %q was recorded\n", name)
		describeOthers(b, rec)
		return
	}
	fmt.Fprintf(b, "recorded runs of task %q: %d\n", name, len(runs))
	listRuns(b, runs, detail)
}

// describeOthers writes how many runs of which tasks rec recorded.
func describeOthers(b *strings.Builder, rec *localtasks.RecordingBackend) {
	counts := map[string]int{}
	for _, r := range rec.Recorded() {
		counts[r.Task]++
	}
	if len(counts) == 0 {
		b.WriteString("the backend recorded no run of any task\n")
		return
	}
	b.WriteString("the backend recorded runs of:")
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(b, " %q (%d)", name, counts[name])
	}
	b.WriteString("\n")
}

// listRuns writes a line for each run, at most maxListed, each followed by
// what detail writes (nil: the run's arguments).
func listRuns(b *strings.Builder, runs []localtasks.TaskResult, detail func(*strings.Builder, *localtasks.TaskResult)) {
	for i := range runs {
		if i == maxListed {
			fmt.Fprintf(b, "  ... and %d more\n", len(runs)-maxListed)
			return
		}
		r := &runs[i]
		fmt.Fprintf(b, "  run %s: %s, %s\n", r.ID, r.Status, options(r))
		if detail == nil {
			fmt.Fprintf(b, "    arguments: %s\n", indent(render(r.Args), "    "))
			continue
		}
		detail(b, r)
	}
}

// options describes the options of r that Want can name.
func options(r *localtasks.TaskResult) string {
	parts := []string{fmt.Sprintf("queue %q", r.Queue), fmt.Sprintf("priority %d", r.Priority)}
	if r.Key != "" {
		parts = append(parts, fmt.Sprintf("key %q", r.Key))
	}
	if len(r.Tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags %q", r.Tags))
	}
	if len(r.Metadata) > 0 {
		parts = append(parts, fmt.Sprintf("metadata %v", r.Metadata))
	}
	if !r.RunAfter.IsZero() {
		parts = append(parts, "run after "+stamp(r.RunAfter), fmt.Sprintf("delay %v", r.RunAfter.Sub(r.EnqueuedAt)))
	}
	if !r.Deadline.IsZero() {
		parts = append(parts, "deadline "+stamp(r.Deadline))
	}
	return strings.Join(parts, ", ")
}

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// String describes the options w names, as Go would write w.
func (w *Want) String() string {
	if w == nil {
		return "any"
	}
	var parts []string
	add := func(field string, v any) { parts = append(parts, fmt.Sprintf("%s: %#v", field, v)) }
	if w.Queue != "" {
		add("Queue", w.Queue)
	}
	if w.Priority != nil {
		add("Priority", *w.Priority)
	}
	if w.Key != "" {
		add("Key", w.Key)
	}
	if w.Tags != nil {
		add("Tags", w.Tags)
	}
	if w.Metadata != nil {
		add("Metadata", w.Metadata)
	}
	if !w.RunAfter.IsZero() {
		parts = append(parts, "RunAfter: "+stamp(w.RunAfter))
	}
	if w.Delay != 0 {
		parts = append(parts, "Delay: "+w.Delay.String())
	}
	if !w.Deadline.IsZero() {
		parts = append(parts, "Deadline: "+stamp(w.Deadline))
	}
	if w.Status != 0 {
		parts = append(parts, "Status: "+w.Status.String())
	}
	return "Want{" + strings.Join(parts, ", ") + "}"
}

// and and with phrase w for a failure's first line.
func (w *Want) and() string {
	if w == nil {
		return ""
	}
	return " and options"
}

func (w *Want) with() string {
	if w == nil {
		return ""
	}
	return " with " + w.String()
}

// mismatches lists how r differs from what w names, a line a field; none
// if it matches.
func (w *Want) mismatches(r *localtasks.TaskResult) []string {
	if w == nil {
		return nil
	}
	var out []string
	differ := func(field string, want, got any) {
		out = append(out, fmt.Sprintf("%s: wanted %v, recorded %v", field, want, got))
	}
	if w.Queue != "" && w.Queue != r.Queue {
		differ("queue", fmt.Sprintf("%q", w.Queue), fmt.Sprintf("%q", r.Queue))
	}
	if w.Priority != nil && *w.Priority != r.Priority {
		differ("priority", *w.Priority, r.Priority)
	}
	if w.Key != "" && w.Key != r.Key {
		differ("key", fmt.Sprintf("%q", w.Key), fmt.Sprintf("%q", r.Key))
	}
	for _, tag := range w.Tags {
		if !slices.Contains(r.Tags, tag) {
			differ("tags", fmt.Sprintf("%q among them", tag), fmt.Sprintf("%q", r.Tags))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.Metadata)) {
		if got, ok := r.Metadata[k]; !ok {
			differ("metadata "+k, fmt.Sprintf("%q", w.Metadata[k]), "none")
		} else if got != w.Metadata[k] {
			differ("metadata "+k, fmt.Sprintf("%q", w.Metadata[k]), fmt.Sprintf("%q", got))
		}
	}
	if !w.RunAfter.IsZero() && !w.RunAfter.Equal(r.RunAfter) {
		differ("run after", stamp(w.RunAfter), orNone(r.RunAfter))
	}
	if w.Delay != 0 && (r.RunAfter.IsZero() || r.RunAfter.Sub(r.EnqueuedAt) != w.Delay) {
		got := "none"
		if !r.RunAfter.IsZero() {
			got = r.RunAfter.Sub(r.EnqueuedAt).String()
		}
		differ("delay", w.Delay, got)
	}
	if !w.Deadline.IsZero() && !w.Deadline.Equal(r.Deadline) {
		differ("deadline", stamp(w.Deadline), orNone(r.Deadline))
	}
	if w.Status != 0 && w.Status != r.Status {
		differ("status", w.Status, r.Status)
	}
	return out
}

func orNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return stamp(t)
}

// render shows v as indented JSON, a field a line, for a line diff; a
// value JSON cannot show (a channel, a function, a struct with unexported
// fields only) as Go would write it.
func render(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil || string(b) == "{}" && reflect.ValueOf(v).Kind() == reflect.Struct && reflect.ValueOf(v).NumField() > 0 {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// diff returns a line diff of want and got as render shows them: lines
// only in want marked "-", only in got "+", and shared ones " ". Where
// render shows both alike (they differ in what JSON leaves out), it diffs
// them as Go would write them.
func diff(want, got any) []string {
	w, g := render(want), render(got)
	if w == g {
		w, g = fmt.Sprintf("%#v", want), fmt.Sprintf("%#v", got)
	}
	return lineDiff(strings.Split(w, "\n"), strings.Split(g, "\n"))
}

// maxDiffCells bounds the table lineDiff fills: beyond it, it shows every
// line of a as removed and every line of b as added.
const maxDiffCells = 1 << 20

// lineDiff returns the lines of a and b, with the longest run of lines
// they share kept in order and marked " ", the others marked "-" (a) and
// "+" (b).
func lineDiff(a, b []string) []string {
	var out []string
	if len(a)*len(b) > maxDiffCells {
		for _, l := range a {
			out = append(out, "- "+l)
		}
		for _, l := range b {
			out = append(out, "+ "+l)
		}
		return out
	}
	// lcs[i][j] is the length of the longest common run of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case j == len(b) || i < len(a) && lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}
