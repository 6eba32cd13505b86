package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// testWorkload has every kind of target, over made-up stats.
func testWorkload() *workload {
	return &workload{
		id: "WX", title: "test",
		systems: []system{{name: "lt"}, {name: "peer"}, {name: "py"}, {name: "idle"}},
		targets: []target{
			throughputAtLeast("lt", "peer", 1.0),
			throughputAtLeast("lt", "py", 40),
			latencyAtMost("idle", "peer", 3),
		},
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	st := func(name string, tasks int, secs float64, rss float64, extra map[string]float64) stats {
		return stats{system: name, tasks: tasks, seconds: secs, rssMiB: rss, runs: 1, extra: extra}
	}
	tests := []struct {
		name  string
		tgt   target
		m     map[string]stats
		ratio float64
		ok    bool // ratio computable
		pass  bool
	}{
		{"faster than pond passes", throughputAtLeast("lt", "pond", 1),
			map[string]stats{"lt": st("lt", 100, 1, 0, nil), "pond": st("pond", 100, 2, 0, nil)}, 2, true, true},
		{"equal to pond passes", throughputAtLeast("lt", "pond", 1),
			map[string]stats{"lt": st("lt", 100, 2, 0, nil), "pond": st("pond", 100, 2, 0, nil)}, 1, true, true},
		{"slower than pond misses", throughputAtLeast("lt", "pond", 1),
			map[string]stats{"lt": st("lt", 100, 4, 0, nil), "pond": st("pond", 100, 2, 0, nil)}, 0.5, true, false},
		{"40x python", throughputAtLeast("lt", "py", 40),
			map[string]stats{"lt": st("lt", 1000, 1, 0, nil), "py": st("py", 1000, 50, 0, nil)}, 50, true, true},
		{"missing baseline", throughputAtLeast("lt", "py", 40),
			map[string]stats{"lt": st("lt", 1000, 1, 0, nil)}, 0, false, false},
		{"makespan as the best peer's", makespanWithin("lt", []string{"pond", "ants"}, 1/1.01),
			map[string]stats{"lt": st("lt", 10_000, 1.05, 0, nil), "pond": st("pond", 10_000, 1.05, 0, nil), "ants": st("ants", 10_000, 1.06, 0, nil)}, 1, true, true},
		{"makespan within 1% of the best peer's", makespanWithin("lt", []string{"pond", "ants"}, 1/1.01),
			map[string]stats{"lt": st("lt", 10_000, 1.0599, 0, nil), "pond": st("pond", 10_000, 1.07, 0, nil), "ants": st("ants", 10_000, 1.05, 0, nil)}, 1.05 / 1.0599, true, true},
		{"makespan 3% over the best peer's", makespanWithin("lt", []string{"pond", "ants"}, 1/1.01),
			map[string]stats{"lt": st("lt", 10_000, 1.0815, 0, nil), "pond": st("pond", 10_000, 1.05, 0, nil)}, 1.05 / 1.0815, true, false},
		{"no peer measured", makespanWithin("lt", []string{"pond"}, 1/1.01),
			map[string]stats{"lt": st("lt", 10_000, 1, 0, nil)}, 0, false, false},
		{"rss under the bound", rssAtMost("lt", 64),
			map[string]stats{"lt": st("lt", 1, 1, 32, map[string]float64{"lost": 0})}, 2, true, true},
		{"rss over the bound", rssAtMost("lt", 64),
			map[string]stats{"lt": st("lt", 1, 1, 128, map[string]float64{"lost": 0})}, 0.5, true, false},
		{"a lost result misses", rssAtMost("lt", 64),
			map[string]stats{"lt": st("lt", 1, 1, 32, map[string]float64{"lost": 1})}, 2, true, false},
		{"p99 under 3x idle", latencyAtMost("proc", "idle", 3),
			map[string]stats{"proc": st("proc", 1, 1, 0, map[string]float64{"p99_us": 200}), "idle": st("idle", 1, 1, 0, map[string]float64{"p99_us": 100})}, 1.5, true, true},
		{"p99 over 3x idle", latencyAtMost("proc", "idle", 3),
			map[string]stats{"proc": st("proc", 1, 1, 0, map[string]float64{"p99_us": 600}), "idle": st("idle", 1, 1, 0, map[string]float64{"p99_us": 100})}, 0.5, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &workload{id: "WX", targets: []target{tt.tgt}}
			for name := range tt.m {
				w.systems = append(w.systems, system{name: name})
			}
			ratio, ok := tt.tgt.ratio(tt.m, params{})
			if ok != tt.ok || (ok && !near(ratio, tt.ratio)) {
				t.Fatalf("ratio = %v, %v; want %v, %v", ratio, ok, tt.ratio, tt.ok)
			}
			rows, notes := evaluate(w, tt.m, params{})
			var carrier *row
			for i := range rows {
				if rows[i].Ratio != nil {
					carrier = &rows[i]
				}
			}
			if !tt.ok {
				if carrier != nil || len(notes) == 0 {
					t.Fatalf("a target without its baseline gave a row %+v, notes %q", carrier, notes)
				}
				return
			}
			if carrier == nil || carrier.System != tt.tgt.subject {
				t.Fatalf("no target row on %s: %+v", tt.tgt.subject, rows)
			}
			if *carrier.Pass != tt.pass || !near(*carrier.Target, tt.tgt.min) || !near(*carrier.Ratio, tt.ratio) {
				t.Errorf("row: ratio %v target %v pass %v; want ratio %v target %v pass %v",
					*carrier.Ratio, *carrier.Target, *carrier.Pass, tt.ratio, tt.tgt.min, tt.pass)
			}
		})
	}
}

// TestEvaluateRows checks one row a system in the workload's order, and a
// second row for a system's second target.
func TestEvaluateRows(t *testing.T) {
	t.Parallel()
	m := map[string]stats{
		"peer": {system: "peer", tasks: 10, seconds: 1, extra: map[string]float64{"p99_us": 10}},
		"lt":   {system: "lt", tasks: 10, seconds: 2},
		"py":   {system: "py", tasks: 10, seconds: 100},
		"idle": {system: "idle", tasks: 10, seconds: 1, extra: map[string]float64{"p99_us": 5}},
	}
	rows, notes := evaluate(testWorkload(), m, params{})
	if len(notes) != 0 {
		t.Errorf("notes: %q", notes)
	}
	var got []string
	for _, r := range rows {
		s := r.System
		if r.Ratio != nil {
			s += " vs " + r.Vs
		}
		if r.repeat {
			s += " (repeat)"
		}
		got = append(got, s)
	}
	want := []string{"lt vs peer", "lt vs py (repeat)", "peer", "py", "idle vs 3x peer p99"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("rows %q, want %q", got, want)
	}
	if *rows[0].Pass || !*rows[1].Pass || !near(*rows[1].Ratio, 50) || !*rows[4].Pass || !near(*rows[4].Ratio, 6) {
		t.Errorf("verdicts: %+v", rows)
	}
	var table bytes.Buffer
	if err := writeTable(&table, rows, []*workload{testWorkload()}, 3, []string{"a note"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"MISS", "PASS", "median of 3", "note: a note"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("the table lacks %q:\n%s", s, table.String())
		}
	}
}

func TestRowJSON(t *testing.T) {
	t.Parallel()
	ratio, tgt, pass := 0.5, 1.0, false
	rows := []row{
		{Workload: "W1", System: "localtasks", Tasks: 100, Seconds: 0.5, TasksPerSec: 200, PeakRSSMiB: 12.34, Runs: 5,
			Vs: "pond", Ratio: &ratio, Target: &tgt, Pass: &pass},
		{Workload: "W1", System: "pond", Tasks: 100, Seconds: 0.25, TasksPerSec: 400, PeakRSSMiB: 10, Runs: 5,
			Extra: map[string]float64{"zeta": 1, "p99_us": 12.5, "p50_us": 3}},
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	wantKeys := [][]string{
		{"workload", "system", "tasks", "seconds", "tasks_per_sec", "peak_rss_mib", "runs", "vs", "ratio", "target", "pass"},
		{"workload", "system", "tasks", "seconds", "tasks_per_sec", "peak_rss_mib", "runs", "p50_us", "p99_us", "zeta"},
	}
	for i, line := range lines {
		if keys := jsonKeys(t, line); strings.Join(keys, ",") != strings.Join(wantKeys[i], ",") {
			t.Errorf("line %d keys %q, want %q", i, keys, wantKeys[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
	}
	var first struct {
		Workload    string   `json:"workload"`
		System      string   `json:"system"`
		Tasks       int      `json:"tasks"`
		Seconds     float64  `json:"seconds"`
		TasksPerSec float64  `json:"tasks_per_sec"`
		PeakRSSMiB  float64  `json:"peak_rss_mib"`
		Ratio       *float64 `json:"ratio"`
		Target      *float64 `json:"target"`
		Pass        *bool    `json:"pass"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Workload != "W1" || first.System != "localtasks" || first.Tasks != 100 || first.Seconds != 0.5 ||
		first.TasksPerSec != 200 || first.PeakRSSMiB != 12.3 || *first.Ratio != 0.5 || *first.Target != 1 || *first.Pass {
		t.Errorf("decoded %+v", first)
	}
}

// jsonKeys lists a JSON object's top-level keys in order.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", s)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestSVGWellFormed(t *testing.T) {
	t.Parallel()
	rows := []row{
		{Workload: "W1", System: "localtasks", TasksPerSec: 500_000},
		{Workload: "W1", System: "pond <&> \"peer\"", TasksPerSec: 1_200_000},
		{Workload: "W1", System: "channels", TasksPerSec: 25_000_000},
		{Workload: "W1", System: "localtasks", TasksPerSec: 500_000, repeat: true},
		{Workload: "W7", System: "idle", Extra: map[string]float64{"p50_us": 25, "p99_us": 110}},
		{Workload: "W7", System: "localtasks-proc", Extra: map[string]float64{"p50_us": 27, "p99_us": 700}},
	} // no W4: its panel says so
	for _, rs := range [][]row{rows, nil} {
		var buf bytes.Buffer
		if err := writeSVG(&buf, rs); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&buf)
		var root string
		depth, texts := 0, 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the SVG is not well-formed XML: %v", err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					root = tok.Name.Local
				}
				if tok.Name.Local == "text" {
					texts++
				}
				depth++
			case xml.EndElement:
				depth--
			}
		}
		if root != "svg" || depth != 0 || texts == 0 {
			t.Errorf("root %q, depth %d, %d texts", root, depth, texts)
		}
	}
	var buf bytes.Buffer
	writeSVG(&buf, rows)
	if !strings.Contains(buf.String(), "pond &lt;&amp;&gt;") || !strings.Contains(buf.String(), "not measured") ||
		!strings.Contains(buf.String(), "3x idle p99 (330 us)") {
		t.Errorf("labels not escaped, no note for W4, or no W7 target line:\n%s", buf.String())
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	smp := func(secs, rss float64, extra map[string]float64) sample {
		return sample{measurement: measurement{Tasks: 10, Seconds: secs, Extra: extra}, rssMiB: rss}
	}
	st := aggregate("x", []sample{
		smp(3, 10, map[string]float64{"lost": 0, "p99_us": 30}),
		smp(1, 30, map[string]float64{"lost": 2, "p99_us": 10}),
		smp(2, 20, map[string]float64{"lost": 0, "p99_us": 20}),
	})
	if st.seconds != 2 || st.rssMiB != 30 || st.extra["lost"] != 2 || st.extra["p99_us"] != 20 || st.runs != 3 || st.tasksPerSec() != 5 {
		t.Errorf("aggregate = %+v", st)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 = %v, want 2.5", m)
	}
}

func TestParseMeasurement(t *testing.T) {
	t.Parallel()
	m, err := parseMeasurement([]byte("noise\n{\"tasks\":5,\"seconds\":0.5}\n"))
	if err != nil || m.Tasks != 5 || m.Seconds != 0.5 {
		t.Errorf("parse = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "no json", `{"tasks":0,"seconds":1}`, `{"tasks":`} {
		if _, err := parseMeasurement([]byte(bad)); err == nil {
			t.Errorf("parse(%q) gave no error", bad)
		}
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for x, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568", -1500: "-1,500"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v) = %q, want %q", x, got, want)
		}
	}
}
