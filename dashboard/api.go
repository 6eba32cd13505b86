package dashboard

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard/dashapi"
)

// newTask converts a run of the backend labelled label.
func newTask(label string, res localtasks.TaskResult) Task {
	t := Task{
		ID: res.ID, Task: res.Task, Backend: label, Queue: res.Queue, Priority: res.Priority,
		Status: res.Status.String(), Key: res.Key,
		EnqueuedAt: timeOrNil(res.EnqueuedAt), RunAfter: timeOrNil(res.RunAfter), Deadline: timeOrNil(res.Deadline),
		StartedAt: timeOrNil(res.StartedAt), LastAttemptedAt: timeOrNil(res.LastAttemptedAt),
		FinishedAt: timeOrNil(res.FinishedAt),
		Attempts:   res.Attempts, WorkerIDs: nonNil(res.WorkerIDs),
		Args: renderValue(res.Args), Value: renderValue(res.Value),
		Errors: make([]TaskError, len(res.Errors)), CancelReason: res.CancelReason,
		Tags: res.Tags, Metadata: res.Metadata, // the result's own copies
		LogCount: len(res.Logs) + res.LogsDropped,
	}
	t.ArgsSummary = summary(t.Args, dashapi.ArgsSummaryMax)
	for i, e := range res.Errors {
		t.Errors[i] = TaskError{Attempt: e.Attempt, At: e.At, Type: e.Type, Message: e.Message, Stack: e.Stack}
	}
	if p := res.Progress; p.Done != 0 || p.Total != 0 || p.Message != "" || !p.At.IsZero() {
		t.Progress = &Progress{Done: p.Done, Total: p.Total, Message: p.Message, At: p.At}
	}
	return t
}

// newDetail converts a run of the backend labelled label, with its logs:
// the response of GET api/results/{id}.
func newDetail(label string, res localtasks.TaskResult) Task {
	t := newTask(label, res)
	t.LogsDropped = res.LogsDropped
	if len(res.Logs) > 0 {
		t.Logs = make([]LogRecord, len(res.Logs))
		for i, r := range res.Logs {
			t.Logs[i] = LogRecord{Attempt: r.Attempt, At: r.Time, Level: r.Level.String(), Stream: r.Stream,
				Message: r.Message, Attrs: make([]LogAttr, len(r.Attrs)), Cut: r.Cut}
			for j, a := range r.Attrs {
				t.Logs[i].Attrs[j] = LogAttr{Key: a.Key, Value: a.Value}
			}
		}
	}
	return t
}

// summary returns the JSON v, which json.Marshal made (so on one line),
// cut to max runes, the last an ellipsis, where it is longer.
func summary(v json.RawMessage, max int) string {
	if utf8.RuneCount(v) <= max {
		return string(v)
	}
	n := 0
	for i := range string(v) {
		if n == max-1 {
			return string(v[:i]) + "…"
		}
		n++
	}
	return string(v) // not reached: v has more than max runes
}

func newTasks(label string, rs []localtasks.TaskResult) []Task {
	ts := make([]Task, len(rs))
	for i, res := range rs {
		ts[i] = newTask(label, res)
	}
	return ts
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// renderValue renders v as encoding/json does, or, where it cannot (a
// channel, a NaN, a MarshalJSON that fails or panics), as a JSON string of
// fmt.Sprint(v).
func renderValue(v any) (out json.RawMessage) {
	defer func() {
		if recover() != nil {
			out = sprintJSON(v)
		}
	}()
	b, err := json.Marshal(v)
	if err != nil {
		return sprintJSON(v)
	}
	return b
}

func sprintJSON(v any) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprint(v)) // a string always marshals
	return b
}

func newWorkers(ws []localtasks.WorkerInfo) []Worker {
	out := make([]Worker, len(ws))
	for i, w := range ws {
		out[i] = Worker{ID: w.ID, PID: w.PID, Running: nonNil(w.Running), TasksDone: w.TasksDone, MemoryBytes: w.MemoryBytes, Starting: w.Starting}
	}
	return out
}

func newCounters(c localtasks.Counters) Counters {
	return Counters{Enqueued: c.Enqueued, Started: c.Started, Succeeded: c.Succeeded, Failed: c.Failed,
		Retried: c.Retried, Cancelled: c.Cancelled, Struck: c.Struck, Perpetuated: c.Perpetuated,
		QueueFull: c.QueueFull, JournalCommits: c.JournalCommits, JournalRows: c.JournalRows, JournalFailures: c.JournalFailures,
		WorkerRestarts: c.WorkerRestarts}
}

func newStrikes(label string, sts []localtasks.Strike) []Strike {
	out := make([]Strike, len(sts))
	for i, st := range sts {
		out[i] = Strike{Backend: label, Task: st.Task, Field: st.Field, Op: string(st.Op), Value: strikeValue(st.Value), Upper: strikeValue(st.Upper)}
	}
	return out
}

// strikeValue renders a strike's value so that a response holding it
// always marshals, whatever Go code gave the strike (a NaN, say).
func strikeValue(v any) any {
	if v == nil {
		return nil
	}
	return renderValue(v)
}
