package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
)

var resultCommand = &command{
	name: "result",
	arg:  "ID",
	summary: `Result prints one run: its status, queue, priority, key, tags and
metadata, its times, attempts and workers, its progress, argument and
value, the error of each failed attempt, with the stack of a panic, and
its logs: a line for each record it wrote through localtasks.Logger(ctx)
(and, on a process pool, each line it printed), with its time, attempt,
level, stream, message and attributes.`,
	setup: func(fs *flag.FlagSet) runFunc {
		asJSON := fs.Bool("json", false, jsonUsage)
		return func(ctx context.Context, c *client, stdout io.Writer, pos []string) (int, error) {
			if *asJSON {
				return printJSON(ctx, c, stdout, resultPath(pos[0], ""))
			}
			var t task
			if err := c.get(ctx, resultPath(pos[0], ""), &t); err != nil {
				return 0, err
			}
			printResult(stdout, &t)
			return ExitOK, nil
		}
	},
}

func printResult(w io.Writer, t *task) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(name, value string) {
		if name == "" { // a value more of the row before
			fmt.Fprintf(tw, "\t%s\n", value)
			return
		}
		fmt.Fprintf(tw, "%s:\t%s\n", name, value)
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return cell(s, 0)
	}
	row("ID", cell(t.ID, 0))
	row("Task", cell(t.Task, 0))
	row("Status", cell(t.Status, 0))
	row("Backend", orDash(t.Backend))
	row("Queue", orDash(t.Queue))
	row("Priority", fmt.Sprint(t.Priority))
	row("Key", orDash(t.Key))
	printTagsAndMetadata(row, t)
	row("Enqueued", formatFullTime(t.EnqueuedAt))
	row("Run after", formatFullTime(t.RunAfter))
	if t.Deadline != nil {
		row("Deadline", formatFullTime(t.Deadline))
	}
	row("Started", formatFullTime(t.StartedAt))
	row("Last attempt", formatFullTime(t.LastAttemptedAt))
	row("Finished", formatFullTime(t.FinishedAt))
	if d := duration(t); d > 0 {
		row("Took", formatDuration(d))
	}
	row("Attempts", fmt.Sprint(t.Attempts))
	row("Workers", orDash(strings.Join(t.WorkerIDs, ", ")))
	if t.Progress != nil {
		row("Progress", progressText(t.Progress, 0)+" (at "+formatFullTime(&t.Progress.At)+")")
	}
	row("Args", cell(compact(t.Args), 0))
	row("Value", cell(compact(t.Value), 0))
	if t.CancelReason != "" {
		row("Cancel reason", cell(t.CancelReason, 0))
	}
	tw.Flush()
	if len(t.Errors) > 0 {
		fmt.Fprintf(w, "Errors:\n")
		for _, e := range t.Errors {
			at := e.At
			fmt.Fprintf(w, "  attempt %d, %s: %s: %s\n", e.Attempt, formatFullTime(&at), cell(e.Type, 0), indent(text(e.Message), "    "))
			if e.Stack != "" {
				fmt.Fprintf(w, "    %s\n", indent(text(strings.TrimRight(e.Stack, "\n")), "    "))
			}
		}
	}
	printLogs(w, t)
}

// printLogs prints the run's log records, a line each, and how many were
// dropped; nothing for a run that kept none.
func printLogs(w io.Writer, t *task) {
	if len(t.Logs) == 0 && t.LogsDropped == 0 {
		return
	}
	fmt.Fprintf(w, "Logs:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range t.Logs {
		at := r.At
		line := cell(r.Message, 0)
		if r.Cut {
			line += " [cut]"
		}
		for _, a := range r.Attrs {
			line += " " + cell(a.Key, 0) + "=" + attrValue(a.Value)
		}
		fmt.Fprintf(tw, "  %s\tattempt %d\t%s\t%s\t%s\n", formatFullTime(&at), r.Attempt, cell(r.Level, 0), cell(r.Stream, 0), line)
	}
	tw.Flush()
	if n := t.LogsDropped; n > 0 {
		records := "records"
		if n == 1 {
			records = "record"
		}
		fmt.Fprintf(w, "  %d %s dropped: Config.RunLogs keeps 200 records or 64 KiB a run by default; the earlier attempts' make room for the latest's, whose first records are kept.\n",
			n, records)
	}
}

// attrValue prints an attribute's value as log/slog's text handler does:
// quoted where it is empty or holds a space, a quote or an equals sign, so
// that the line reads back as key=value pairs.
func attrValue(v string) string {
	v = cell(v, 0)
	if v == "" || strings.ContainsAny(v, " \"=") {
		return strconv.Quote(v)
	}
	return v
}

// indent indents every line of s but the first by prefix.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

var cancelCommand = &command{
	name: "cancel",
	arg:  "ID",
	summary: `Cancel cancels a run. A queued or scheduled run ends CANCELLED at once; a
running one has its ctx cancelled, and ends CANCELLED when its task returns.
The dashboard must have actions on (dashboard.Config{Actions: true}).`,
	setup: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, c *client, stdout io.Writer, pos []string) (int, error) {
			var t task
			if err := c.post(ctx, resultPath(pos[0], "/cancel"), struct{}{}, &t, http.StatusOK); err != nil {
				return 0, err
			}
			if t.Status == statusCancelled {
				fmt.Fprintf(stdout, "Cancelled %s (%s).\n", cell(t.ID, 0), cell(t.Task, 0))
			} else {
				fmt.Fprintf(stdout, "Cancelling %s (%s): it is %s, and ends CANCELLED when its task returns; 'localtasks watch %s' follows it.\n",
					cell(t.ID, 0), cell(t.Task, 0), cell(t.Status, 0), cell(t.ID, 0))
			}
			return ExitOK, nil
		}
	},
}

var retryCommand = &command{
	name: "retry",
	arg:  "ID",
	summary: `Retry enqueues a new run of a finished run's task, with the same argument,
and prints the new run's ID. The dashboard must have actions on
(dashboard.Config{Actions: true}).`,
	setup: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, c *client, stdout io.Writer, pos []string) (int, error) {
			var t task
			if err := c.post(ctx, resultPath(pos[0], "/retry"), struct{}{}, &t, http.StatusCreated); err != nil {
				return 0, err
			}
			fmt.Fprintf(stdout, "Enqueued %s, a new run of %s; 'localtasks watch %s' follows it.\n", cell(t.ID, 0), cell(t.Task, 0), cell(t.ID, 0))
			return ExitOK, nil
		}
	},
}
