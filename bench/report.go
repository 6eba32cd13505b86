package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// target is one of BENCHMARKS.md's targets: a ratio computed from a
// workload's stats, which passes when it is at least min (and ok holds, if
// set). Every ratio is defined so that bigger is better.
type target struct {
	subject string  // the system whose row carries the target
	vs      string  // what it is compared with: a system, or a bound
	min     float64 // PASS when ratio >= min
	// ratio computes the ratio; false when a system it needs was not
	// measured.
	ratio func(m map[string]stats, p params) (float64, bool)
	// ok is another condition of a PASS, such as no lost result; nil for
	// none.
	ok func(s stats) bool
}

// throughputAtLeast: subject's tasks/s over vs's, at least min.
func throughputAtLeast(subject, vs string, min float64) target {
	return target{subject: subject, vs: vs, min: min, ratio: func(m map[string]stats, _ params) (float64, bool) {
		a, okA := m[subject]
		b, okB := m[vs]
		if !okA || !okB || b.tasksPerSec() == 0 {
			return 0, false
		}
		return a.tasksPerSec() / b.tasksPerSec(), true
	}}
}

// extraAtMost: the bound over subject's extra figure key, at least 1.
func extraAtMost(subject, key string, bound float64, unit string) target {
	return target{subject: subject, vs: fmt.Sprintf("%g %s", bound, unit), min: 1, ratio: func(m map[string]stats, _ params) (float64, bool) {
		a, ok := m[subject]
		if !ok || a.extra[key] <= 0 {
			return 0, false
		}
		return bound / a.extra[key], true
	}}
}

// makespanWithin: the makespan of the fastest of peers over subject's, at
// least min: subject is within 1/min of the best of them in the same run.
func makespanWithin(subject string, peers []string, min float64) target {
	return target{subject: subject, vs: "best of " + strings.Join(peers, ","), min: min, ratio: func(m map[string]stats, _ params) (float64, bool) {
		a, ok := m[subject]
		if !ok || a.seconds == 0 {
			return 0, false
		}
		best := 0.0
		for _, name := range peers {
			if b, ok := m[name]; ok && b.seconds > 0 && (best == 0 || b.seconds < best) {
				best = b.seconds
			}
		}
		if best == 0 {
			return 0, false
		}
		return best / a.seconds, true
	}}
}

// rssAtMost: the bound over subject's peak RSS, at least 1, and no lost
// result.
func rssAtMost(subject string, mib float64) target {
	return target{subject: subject, vs: fmt.Sprintf("%g MiB", mib), min: 1, ratio: func(m map[string]stats, _ params) (float64, bool) {
		a, ok := m[subject]
		if !ok || a.rssMiB == 0 {
			return 0, false
		}
		return mib / a.rssMiB, true
	}, ok: func(s stats) bool { return s.extra["lost"] == 0 }}
}

// latencyAtMost: factor times vs's p99 over subject's p99, at least 1.
func latencyAtMost(subject, vs string, factor float64) target {
	return target{subject: subject, vs: fmt.Sprintf("%gx %s p99", factor, vs), min: 1, ratio: func(m map[string]stats, _ params) (float64, bool) {
		a, okA := m[subject]
		b, okB := m[vs]
		if !okA || !okB || a.extra["p99_us"] == 0 {
			return 0, false
		}
		return factor * b.extra["p99_us"] / a.extra["p99_us"], true
	}}
}

// row is one line of the report: a system's stats in a workload, and on a
// target's row, its ratio, target and verdict.
type row struct {
	Workload    string
	Title       string
	System      string
	Tasks       int
	Seconds     float64
	TasksPerSec float64
	PeakRSSMiB  float64
	Runs        int
	Extra       map[string]float64

	// Set on a row that carries a target.
	Vs     string
	Ratio  *float64
	Target *float64
	Pass   *bool

	repeat bool // a second target of the row above: the table blanks its figures
}

// evaluate makes a workload's rows: one a measured system, in the
// workload's order, carrying its first target; a second target of the same
// system makes a second row. A target whose baseline was not measured is
// left out, with a note.
func evaluate(w *workload, m map[string]stats, p params) (rows []row, notes []string) {
	for _, s := range w.systems {
		st, ok := m[s.name]
		if !ok {
			continue
		}
		base := row{Workload: w.id, Title: w.title, System: s.name, Tasks: st.tasks, Seconds: st.seconds,
			TasksPerSec: st.tasksPerSec(), PeakRSSMiB: st.rssMiB, Runs: st.runs, Extra: st.extra}
		n := 0
		for _, t := range w.targets {
			if t.subject != s.name {
				continue
			}
			ratio, ok := t.ratio(m, p)
			if !ok {
				notes = append(notes, fmt.Sprintf("%s: no ratio of %s vs %s: %s was not measured", w.id, t.subject, t.vs, t.vs))
				continue
			}
			r := base
			r.Vs = t.vs
			r.Ratio, r.Target = &ratio, ptr(t.min)
			pass := ratio >= t.min && (t.ok == nil || t.ok(st))
			r.Pass = &pass
			r.repeat = n > 0
			rows = append(rows, r)
			n++
		}
		if n == 0 {
			rows = append(rows, base)
		}
	}
	return rows, notes
}

func ptr[T any](v T) *T { return &v }

// extraOrder is the order of the extra figures, in JSON and in the table;
// others follow, sorted.
var extraOrder = []string{"p50_us", "p99_us", "lost", "bg_tasks"}

func extraKeys(extra map[string]float64) []string {
	var keys []string
	for _, k := range extraOrder {
		if _, ok := extra[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range extra {
		if !slices.Contains(extraOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// round keeps d decimals.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

// MarshalJSON writes the row as one flat object with its fields in a fixed
// order: workload, system, tasks, seconds, tasks_per_sec, peak_rss_mib,
// runs, the extra figures, then vs, ratio, target and pass on a target's
// row.
func (r row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(k string, v any) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	field("workload", r.Workload)
	field("system", r.System)
	field("tasks", r.Tasks)
	field("seconds", round(r.Seconds, 6))
	field("tasks_per_sec", round(r.TasksPerSec, 1))
	field("peak_rss_mib", round(r.PeakRSSMiB, 1))
	field("runs", r.Runs)
	for _, k := range extraKeys(r.Extra) {
		field(k, round(r.Extra[k], 2))
	}
	if r.Ratio != nil {
		field("vs", r.Vs)
		field("ratio", round(*r.Ratio, 4))
		field("target", round(*r.Target, 4))
		field("pass", *r.Pass)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSON writes each row as a JSON object on its own line.
func writeJSON(w io.Writer, rows []row) error {
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// writeTable writes the rows as an aligned table, then the legend.
func writeTable(w io.Writer, rows []row, ran []*workload, runs int, notes []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tsystem\ttasks\tseconds\ttasks/s\tpeak RSS MiB\tdetail\tratio\ttarget\tvs\tresult")
	for _, r := range rows {
		wl := r.Workload + " " + r.Title
		figs := []string{itoa(r.Tasks), fmt.Sprintf("%.4f", r.Seconds), thousands(r.TasksPerSec), fmt.Sprintf("%.1f", r.PeakRSSMiB), detail(r.Extra)}
		if r.repeat {
			figs = []string{"", "", "", "", ""}
		}
		ratio, tgt, res := "", "", ""
		if r.Ratio != nil {
			ratio, tgt, res = fmt.Sprintf("%.3f", *r.Ratio), fmt.Sprintf("%.3f", *r.Target), "MISS"
			if *r.Pass {
				res = "PASS"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wl, r.System, figs[0], figs[1], figs[2], figs[3], figs[4], ratio, tgt, r.Vs, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nseconds: the median of %d interleaved runs, each in a child process of its own; tasks/s = tasks / seconds.\n", runs)
	fmt.Fprintln(w, "peak RSS: the largest ru_maxrss of the child over its runs (for a process pool, of its largest process, not the sum).")
	fmt.Fprintln(w, "detail: the median over runs of p50/p99 (microseconds) and bg_tasks; lost: the largest over runs.")
	fmt.Fprintln(w, "cpu_us: CPU time (user+system) a task took, in microseconds, of the measuring process and the worker processes it waited for,")
	fmt.Fprintln(w, "setup and close included; workers_cpu_us: of the worker processes alone. The median over runs; steadier than wall time on a shared machine.")
	fmt.Fprintln(w, "ratio: defined per workload so that bigger is better; PASS when ratio >= target.")
	for _, wl := range ran {
		fmt.Fprintln(w, wl.legend)
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note: "+n)
	}
	return nil
}

func itoa(n int) string { return thousands(float64(n)) }

// thousands prints x rounded, with commas between thousands.
func thousands(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// detail prints a row's extra figures for the table.
func detail(extra map[string]float64) string {
	var parts []string
	for _, k := range extraKeys(extra) {
		v := extra[k]
		switch k {
		case "p50_us", "p99_us":
			parts = append(parts, fmt.Sprintf("%s %sus", strings.TrimSuffix(k, "_us"), trimFloat(v)))
		case "evicted_reads", "reads":
			// in the JSON only
		default:
			parts = append(parts, fmt.Sprintf("%s %s", k, trimFloat(v)))
		}
	}
	return strings.Join(parts, " ")
}

func trimFloat(v float64) string {
	switch {
	case v >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// The SVG chart: three panels of horizontal bars on log scales.
const (
	svgWidth   = 960
	svgLabelX  = 190 // bars start here
	svgBarEnd  = 830 // and end here at the scale's top
	svgRowH    = 22
	svgBarH    = 15
	svgTitleH  = 34
	svgAxisH   = 36
	svgPanelGp = 18
)

type bar struct {
	label string
	value float64
	color string
	text  string
}

type panel struct {
	title string
	bars  []bar
	// mark, if above zero, draws a dashed line at that value, labelled.
	mark      float64
	markLabel string
}

// writeSVG writes the chart: W1's and W4's throughput per system, and W7's
// handler latency p50 and p99 per condition. A workload not in rows gets a
// panel that says so.
func writeSVG(w io.Writer, rows []row) error {
	by := map[string][]row{}
	for _, r := range rows {
		if !r.repeat {
			by[r.Workload] = append(by[r.Workload], r)
		}
	}
	color := func(system string) string {
		if strings.HasPrefix(system, "localtasks") {
			return "#d9480f"
		}
		return "#4c6ef5"
	}
	throughput := func(id, title string) panel {
		p := panel{title: title}
		for _, r := range by[id] {
			p.bars = append(p.bars, bar{label: r.System, value: r.TasksPerSec, color: color(r.System), text: thousands(r.TasksPerSec) + "/s"})
		}
		return p
	}
	lat := panel{title: "W7 isolation: HTTP handler latency, p50 (light) and p99 (dark), microseconds (log scale)"}
	for _, r := range by["W7"] {
		p50, p99 := r.Extra["p50_us"], r.Extra["p99_us"]
		if r.System == "idle" && p99 > 0 {
			lat.mark, lat.markLabel = 3*p99, "target: 3x idle p99"
		}
		lat.bars = append(lat.bars,
			bar{label: r.System + " p50", value: p50, color: "#74c0fc", text: trimFloat(p50) + " us"},
			bar{label: r.System + " p99", value: p99, color: "#1864ab", text: trimFloat(p99) + " us"})
	}
	panels := []panel{
		throughput("W1", "W1 noop: tasks per second, 8 workers (log scale)"),
		throughput("W4", "W4 proc-noop: tasks per second, 2 worker processes (log scale)"),
		lat,
	}

	var b strings.Builder
	height := 10
	for _, p := range panels {
		height += svgTitleH + max(1, len(p.bars))*svgRowH + svgAxisH + svgPanelGp
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	y := 10
	for _, p := range panels {
		y = p.write(&b, y)
		y += svgPanelGp
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// write draws the panel from y and returns the y below it.
func (p panel) write(b *strings.Builder, y int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", y+20, esc(p.title))
	y += svgTitleH
	if len(p.bars) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#868e96">not measured in this run</text>`+"\n", svgLabelX, y+15)
		return y + svgRowH + svgAxisH
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, br := range p.bars {
		if br.value > 0 {
			lo, hi = min(lo, math.Log10(br.value)), max(hi, math.Log10(br.value))
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if p.mark > 0 {
		lo, hi = min(lo, math.Log10(p.mark)), max(hi, math.Log10(p.mark))
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if hi <= lo {
		hi = lo + 1
	}
	if hi-math.Log10(maxValue(p.bars)) < 0.3 {
		hi++ // room for the value labels
	}
	xOf := func(v float64) float64 {
		if v <= 0 {
			return svgLabelX
		}
		return svgLabelX + (math.Log10(v)-lo)/(hi-lo)*(svgBarEnd-svgLabelX)
	}
	top := y
	bottom := y + len(p.bars)*svgRowH
	for e := lo; e <= hi; e++ {
		x := xOf(math.Pow(10, e))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dee2e6"/>`+"\n", x, top, x, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#495057">%s</text>`+"\n", x, bottom+15, esc(tick(e)))
	}
	for i, br := range p.bars {
		by := y + i*svgRowH
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLabelX-8, by+svgBarH-3, esc(br.label))
		x := xOf(br.value)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", svgLabelX, by, x-svgLabelX, svgBarH, br.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#212529">%s</text>`+"\n", x+5, by+svgBarH-3, esc(br.text))
	}
	if p.mark > 0 {
		x := xOf(p.mark)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c92a2a" stroke-dasharray="4 3"/>`+"\n", x, top-4, x, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#c92a2a" font-size="11">%s (%s us)</text>`+"\n", x+4, bottom+27, esc(p.markLabel), trimFloat(p.mark))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#495057"/>`+"\n", svgLabelX, top, svgLabelX, bottom)
	return bottom + svgAxisH
}

func maxValue(bars []bar) float64 {
	m := 0.0
	for _, b := range bars {
		m = max(m, b.value)
	}
	return m
}

// tick labels a power of ten: 1, 10, 100, 1k, ... 1M, ...
func tick(e float64) string {
	n := int(e)
	switch {
	case n < 0:
		return strconv.FormatFloat(math.Pow(10, e), 'g', -1, 64)
	case n < 3:
		return strconv.Itoa(int(math.Pow(10, e)))
	case n < 6:
		return strconv.Itoa(int(math.Pow(10, float64(n-3)))) + "k"
	case n < 9:
		return strconv.Itoa(int(math.Pow(10, float64(n-6)))) + "M"
	}
	return strconv.Itoa(int(math.Pow(10, float64(n-9)))) + "G"
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
