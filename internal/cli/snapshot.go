package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
)

// finishedDefault is how many finished runs snapshot lists a backend.
const finishedDefault = 20

var snapshotCommand = &command{
	name: "snapshot",
	summary: `Snapshot prints every backend's counters, workers (with the PID and memory
of a process pool's workers), queues (the runs running on each, its bound on
workers, whether it is paused), what is paused, strikes, the count of its
runs by status, and a page of its runs (queued, scheduled, running, then the
most recently finished). When a backend has more runs than the page lists,
it prints the command that lists the next page.`,
	setup: func(fs *flag.FlagSet) runFunc {
		status := fs.String("status", "", "list only runs with these `statuses`, comma-separated, in any case (READY,RUNNING,...)")
		taskName := fs.String("task", "", taskUsage+"; list only its runs")
		queue := fs.String("queue", "", "the `queue`'s name; list only its runs")
		key := fs.String("key", "", "the runs' `key`; list only runs with it")
		tag, meta := tagFlags(fs)
		limit := fs.Int("limit", 0, "list at most `n` runs a backend (default the dashboard's, 100; at most 10000)")
		backendName := fs.String("backend", "", backendUsage+"; show only it, default every backend")
		cursor := fs.String("cursor", "", "list the page this `cursor` names, from the line that lists a page's next (needs --backend)")
		finished := fs.Int("finished", finishedDefault, "print at most `n` finished runs a backend; 0 for every one listed")
		asJSON := fs.Bool("json", false, jsonUsage)
		return func(ctx context.Context, c *client, stdout io.Writer, _ []string) (int, error) {
			if *finished < 0 {
				return 0, &usageErr{fmt.Sprintf("--finished %d is negative: give 0 for all, or how many to list", *finished)}
			}
			if *limit < 0 {
				return 0, &usageErr{fmt.Sprintf("--limit %d is negative: give how many runs to list a backend", *limit)}
			}
			q := url.Values{}
			set := func(k, v string) {
				if v != "" {
					q.Set(k, v)
				}
			}
			set("status", *status)
			set("task", *taskName)
			set("queue", *queue)
			set("key", *key)
			set("tag", *tag)
			for _, pair := range *meta {
				q.Add("meta", pair)
			}
			set("backend", *backendName)
			set("cursor", *cursor)
			if *limit > 0 {
				q.Set("limit", strconv.Itoa(*limit))
			}
			path := "api/snapshot"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			if *asJSON {
				return printJSON(ctx, c, stdout, path)
			}
			var snap snapshot
			if err := c.get(ctx, path, &snap); err != nil {
				return 0, err
			}
			q.Del("cursor")
			q.Del("backend")
			printSnapshot(stdout, &snap, *finished, q)
			return ExitOK, nil
		}
	},
}

// The usage of the flags that more than one command has, so that each
// reads the same in every help text (TestFlagsReadTheSameEverywhere). A
// command may add what the flag does for it after a semicolon.
const (
	jsonUsage    = "print the dashboard's JSON instead of text"
	taskUsage    = "the task's `name`"
	backendUsage = "the backend's `name`"
)

// printJSON prints the JSON the dashboard answers a GET of path with.
func printJSON(ctx context.Context, c *client, stdout io.Writer, path string) (int, error) {
	var raw json.RawMessage
	if err := c.get(ctx, path, &raw); err != nil {
		return 0, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return 0, err
	}
	b.WriteByte('\n')
	_, err := stdout.Write(b.Bytes())
	return ExitOK, err
}

// printSnapshot prints snap; query is the request's, but for backend and
// cursor, for the command that lists a backend's next page.
func printSnapshot(w io.Writer, snap *snapshot, finishedMax int, query url.Values) {
	title := snap.Title
	if title == "" {
		title = "localtasks"
	}
	actions := "read-only"
	if snap.Actions {
		actions = "actions on"
	}
	fmt.Fprintf(w, "%s, %s (%s)\n", cell(title, 0), snap.At.Local().Format("2006-01-02 15:04:05"), actions)
	for _, b := range snap.Backends {
		fmt.Fprintf(w, "\n== backend %s ==\n\n", cell(b.Name, 0))
		printBackend(w, &b, snap, finishedMax, query)
	}
}

func printBackend(w io.Writer, b *backendSnapshot, snap *snapshot, finishedMax int, query url.Values) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	k := b.Counters
	fmt.Fprintln(tw, "ENQUEUED\tSTARTED\tSUCCEEDED\tFAILED\tRETRIED\tCANCELLED\tSTRUCK\tPERPETUATED\tQUEUE FULL")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Enqueued, k.Started, k.Succeeded, k.Failed, k.Retried, k.Cancelled, k.Struck, k.Perpetuated, k.QueueFull)
	tw.Flush()

	fmt.Fprintln(w)
	if len(b.Workers) == 0 {
		fmt.Fprintln(w, "No workers.")
	} else {
		fmt.Fprintln(tw, "WORKER\tPID\tMEMORY\tDONE\tRUNNING")
		for _, wk := range b.Workers {
			pid := "-"
			if wk.PID > 0 {
				pid = fmt.Sprint(wk.PID)
			}
			running := "-"
			if len(wk.Running) > 0 {
				running = strings.Join(wk.Running, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", cell(wk.ID, 0), pid, formatBytes(wk.MemoryBytes), wk.TasksDone, cell(running, 0))
		}
		tw.Flush()
	}

	printQueues(w, b.Queues, b.Pauses)

	if len(b.Strikes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "STRIKES")
		for _, st := range b.Strikes {
			fmt.Fprintln(w, cell(strikeText(st), 0))
		}
	}

	finished := b.Finished
	if finishedMax > 0 && len(finished) > finishedMax {
		finished = finished[:finishedMax]
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d queued, %d scheduled, %d running, %d recently finished",
		len(b.Queued), len(b.Scheduled), len(b.Running), len(b.Finished))
	if len(finished) < len(b.Finished) {
		fmt.Fprintf(w, " (the latest %d below; --finished 0 for all)", len(finished))
	}
	fmt.Fprintln(w)
	n := b.Counts
	fmt.Fprintf(w, "In all: %d ready, %d scheduled, %d running, %d successful, %d failed, %d cancelled\n",
		n.Ready, n.Scheduled, n.Running, n.Successful, n.Failed, n.Cancelled)
	if b.NextCursor != "" {
		fmt.Fprintf(w, "More: localtasks snapshot%s --backend %s --cursor %s\n", flagsOf(query), shellWord(b.Name), b.NextCursor)
	}
	rows := 0
	for _, list := range [][]task{b.Queued, b.Scheduled, b.Running, finished} {
		for i := range list {
			if rows == 0 {
				fmt.Fprintln(tw, "ID\tTASK\tSTATUS\tENQUEUED\tRUN AFTER\tSTARTED\tFINISHED\tPROGRESS")
			}
			rows++
			t := &list[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				cell(t.ID, 0), cell(t.Task, 40), cell(t.Status, 0),
				formatTime(t.EnqueuedAt, snap.At), formatTime(t.RunAfter, snap.At),
				formatTime(t.StartedAt, snap.At), formatTime(t.FinishedAt, snap.At),
				progressText(t.Progress, 40))
		}
	}
	tw.Flush()
}

// flagsOf renders a snapshot request's query as the command's flags, each
// with a leading space, in a fixed order.
func flagsOf(q url.Values) string {
	var b strings.Builder
	for _, k := range []string{"status", "task", "queue", "key", "tag", "meta", "limit"} {
		for _, v := range q[k] {
			if v != "" {
				fmt.Fprintf(&b, " --%s %s", k, shellWord(v))
			}
		}
	}
	return b.String()
}

// shellWord quotes s for a POSIX shell, unless it needs none.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
