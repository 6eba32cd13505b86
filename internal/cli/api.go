package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/localtasks/localtasks/dashboard/dashapi"
)

// The JSON of docs/api.md, from package dashapi, which imports nothing of
// the task runtime.
type (
	task            = dashapi.Task
	progress        = dashapi.Progress
	snapshot        = dashapi.Snapshot
	backendSnapshot = dashapi.BackendSnapshot
	strike          = dashapi.Strike
	strikesAnswer   = dashapi.Strikes
	taskEvent       = dashapi.TaskEvent
	statsEvent      = dashapi.Stats
)

// The statuses that end a run.
const (
	statusSuccessful = "SUCCESSFUL"
	statusFailed     = "FAILED"
	statusCancelled  = "CANCELLED"
)

// ended reports whether t has finished.
func ended(t *task) bool {
	switch t.Status {
	case statusSuccessful, statusFailed, statusCancelled:
		return true
	}
	return false
}

// duration is how long the run took, from its start (or its enqueue, if it
// never started) to its end; 0 if it has not finished.
func duration(t *task) time.Duration {
	from := t.StartedAt
	if from == nil {
		from = t.EnqueuedAt
	}
	if from == nil || t.FinishedAt == nil {
		return 0
	}
	return t.FinishedAt.Sub(*from)
}

// formatDuration rounds d for people: to the microsecond under a second,
// else to the millisecond.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// strikeText describes st as localtasks.Strike.String does, as in
// `reports.build where Shop == "acme"`.
func strikeText(st strike) string {
	task := st.Task
	if task == "" {
		task = "any task"
	}
	switch {
	case st.Field == "":
		return task
	case st.Op == "between":
		return fmt.Sprintf("%s where %s between %s and %s", task, st.Field, compactAny(st.Value), compactAny(st.Upper))
	}
	return fmt.Sprintf("%s where %s %s %s", task, st.Field, st.Op, compactAny(st.Value))
}

// compact returns a JSON value on one line; "null" for none.
func compact(v json.RawMessage) string {
	if len(v) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// compactAny is compact for a value decoded into an any.
func compactAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return compact(b)
}

// jsonValue reads a value given on the command line: as JSON if it is
// (42, 2.5, true, "quoted"), else as a plain string.
func jsonValue(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// cell makes s fit a table cell: control characters (tabs and newlines
// would break the table) become spaces, and it is cut at max runes.
func cell(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// text makes s safe to print on a terminal, keeping its lines: control
// characters other than newline and tab become spaces, as in cell, so that a
// task's error, stack or value cannot send escape sequences (clear the
// screen, set the window title, write the clipboard) to the terminal.
func text(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// formatTime formats t in local time: the time of day alone if it falls on
// the same day as now, else the date too; "-" for none.
func formatTime(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	lt, ln := t.Local(), now.Local()
	if lt.YearDay() == ln.YearDay() && lt.Year() == ln.Year() {
		return lt.Format("15:04:05")
	}
	return lt.Format("2006-01-02 15:04:05")
}

// formatFullTime formats t in local time with milliseconds and the zone;
// "-" for none.
func formatFullTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000 MST")
}

// progressText describes a run's progress, as "3/10 30% page 3"; "-" for
// none. The message is cut at max runes (0 for no limit).
func progressText(p *progress, max int) string {
	if p == nil {
		return "-"
	}
	var s string
	if p.Total > 0 {
		s = fmt.Sprintf("%d/%d %d%%", p.Done, p.Total, percent(p))
	} else {
		s = fmt.Sprintf("%d", p.Done)
	}
	if p.Message != "" {
		s += " " + cell(p.Message, max)
	}
	return s
}

func percent(p *progress) int64 {
	if p.Total <= 0 {
		return 0
	}
	return min(max(int64(float64(p.Done)*100/float64(p.Total)), 0), 100)
}

// formatBytes formats a size in bytes for people, "-" for 0 (unknown).
func formatBytes(n int64) string {
	const unit = 1024
	if n <= 0 {
		return "-"
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i])
}
