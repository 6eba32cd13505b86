package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
)

// finishedDefault is how many finished runs snapshot lists a backend.
const finishedDefault = 20

var snapshotCommand = &command{
	name: "snapshot",
	summary: `Snapshot prints every backend's counters, workers (with the PID and memory
of a process pool's workers), strikes, and its runs: queued, scheduled,
running, then the most recently finished.`,
	setup: func(fs *flag.FlagSet) runFunc {
		status := fs.String("status", "", "list only runs with these `statuses`, comma-separated, in any case (READY,RUNNING,...)")
		taskName := fs.String("task", "", "list only runs of the task with this `name`")
		finished := fs.Int("finished", finishedDefault, "list at most `n` finished runs a backend; 0 for every one the dashboard sends (100 at most)")
		asJSON := fs.Bool("json", false, "print the dashboard's JSON instead of tables")
		return func(ctx context.Context, c *client, stdout io.Writer, _ []string) (int, error) {
			if *finished < 0 {
				return 0, &usageErr{fmt.Sprintf("--finished %d is negative: give 0 for all, or how many to list", *finished)}
			}
			q := url.Values{}
			if *status != "" {
				q.Set("status", *status)
			}
			if *taskName != "" {
				q.Set("task", *taskName)
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
			printSnapshot(stdout, &snap, *finished)
			return ExitOK, nil
		}
	},
}

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

func printSnapshot(w io.Writer, snap *snapshot, finishedMax int) {
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
		printBackend(w, &b, snap, finishedMax)
	}
}

func printBackend(w io.Writer, b *backendSnapshot, snap *snapshot, finishedMax int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	k := b.Counters
	fmt.Fprintln(tw, "ENQUEUED\tSTARTED\tSUCCEEDED\tFAILED\tRETRIED\tCANCELLED\tSTRUCK\tPERPETUATED")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Enqueued, k.Started, k.Succeeded, k.Failed, k.Retried, k.Cancelled, k.Struck, k.Perpetuated)
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
