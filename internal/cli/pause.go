package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/localtasks/localtasks/dashboard/dashapi"
)

// The JSON of the pause routes and of the queues in a snapshot.
type (
	pause        = dashapi.Pause
	pausesAnswer = dashapi.Pauses
	queueInfo    = dashapi.Queue
)

// pauseCommand returns the pause command, or the resume command.
func pauseCommand(resume bool) *command {
	cmd := &command{
		name: "pause",
		summary: `Pause holds back the runs of a queue (--queue), or of a task on every queue
(--task): none of them starts until it is resumed, and none is cancelled
either; each stays queued or scheduled, in its place. Runs already running
go on. It prints what is paused. The dashboard must have actions on
(dashboard.Config{Actions: true}).

  localtasks pause --queue reports
  localtasks pause --task reports.build --backend io`,
	}
	path := "api/pauses"
	if resume {
		cmd.name = "resume"
		cmd.summary = `Resume lets the runs of a paused queue or task start again, in the order
they would have, and prints what is still paused. The dashboard must have
actions on (dashboard.Config{Actions: true}).

  localtasks resume --queue reports`
		path = "api/pauses/resume"
	}
	cmd.setup = func(fs *flag.FlagSet) runFunc {
		var p pause
		fs.StringVar(&p.Backend, "backend", "", backendUsage+"; default every backend that can pause")
		fs.StringVar(&p.Queue, "queue", "", "the `queue`'s name; give it or --task")
		fs.StringVar(&p.Task, "task", "", taskUsage+"; give it or --queue")
		return func(ctx context.Context, c *client, stdout io.Writer, _ []string) (int, error) {
			switch {
			case p.Queue == "" && p.Task == "":
				return 0, &usageErr{fmt.Sprintf("give --queue or --task: the queue or the task to %s", cmd.name)}
			case p.Queue != "" && p.Task != "":
				return 0, &usageErr{fmt.Sprintf("give --queue or --task, not both: %s each with a command of its own", cmd.name)}
			}
			var ans pausesAnswer
			if err := c.post(ctx, path, p, &ans, http.StatusOK); err != nil {
				return 0, err
			}
			on := "every backend that can pause"
			if p.Backend != "" {
				on = "backend " + cell(p.Backend, 0)
			}
			verb := "Paused"
			if resume {
				verb = "Resumed"
			}
			fmt.Fprintf(stdout, "%s %s on %s.\n", verb, cell(pauseText(p), 0), on)
			printPauses(stdout, ans.Pauses)
			return ExitOK, nil
		}
	}
	return cmd
}

// pauseText describes p as localtasks.Pause.String does: `queue "reports"`
// or `task "reports.build"`.
func pauseText(p pause) string {
	if p.Task != "" {
		return fmt.Sprintf("task %q", p.Task)
	}
	return fmt.Sprintf("queue %q", p.Queue)
}

func printPauses(w io.Writer, pauses []pause) {
	rows := make([][2]string, len(pauses))
	for i, p := range pauses {
		rows[i] = [2]string{p.Backend, pauseText(p)}
	}
	printBackendList(w, "Nothing is paused.", "Paused:", "PAUSE", rows)
}

// printQueues prints a backend's queues and what is paused on it, for
// snapshot.
func printQueues(w io.Writer, queues []queueInfo, pauses []pause) {
	if len(queues) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tRUNNING\tMAX WORKERS\tSTATE")
		for _, q := range queues {
			limit, state := "all", "active"
			if q.MaxWorkers > 0 {
				limit = fmt.Sprint(q.MaxWorkers)
			}
			if q.Paused {
				state = "paused"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", cell(q.Name, 0), q.Running, limit, state)
		}
		tw.Flush()
	}
	if len(pauses) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "PAUSED")
		for _, p := range pauses {
			fmt.Fprintln(w, cell(pauseText(p), 0))
		}
	}
}
