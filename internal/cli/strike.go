package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
)

// strikeCommand returns the strike command, or the restore command.
func strikeCommand(restore bool) *command {
	cmd := &command{
		name: "strike",
		summary: `Strike stops the runs of a task: every one with --task alone, or those
whose argument's --field compares with --value by --op. Without --task, it
stops the runs of every task whose argument has --field, of a type the value
compares with. Enqueue drops a struck run, and a queued or scheduled one ends
CANCELLED when it would start. It prints the strikes in force. The dashboard
must have actions on (dashboard.Config{Actions: true}).

  localtasks strike --task reports.build
  localtasks strike --task reports.build --field Shop --value acme
  localtasks strike --task reports.build --field Size --op between --value 10 --upper 20
  localtasks strike --field CustomerID --value 42`,
	}
	path := "api/strikes"
	if restore {
		cmd.name = "restore"
		cmd.summary = `Restore lifts a strike given earlier, named by the same flags, and prints
the strikes still in force. Runs the strike dropped stay dropped. The
dashboard must have actions on (dashboard.Config{Actions: true}).

  localtasks restore --task reports.build --field Shop --value acme`
		path = "api/strikes/restore"
	}
	cmd.setup = func(fs *flag.FlagSet) runFunc {
		var st strike
		fs.StringVar(&st.Backend, "backend", "", backendUsage+"; default every backend")
		fs.StringVar(&st.Task, "task", "", taskUsage+"; default every task whose argument has --field")
		fs.StringVar(&st.Field, "field", "", "the `field` of the task's argument to compare, with dots between nested fields; default none, for every run")
		fs.StringVar(&st.Op, "op", "", "the `operator`: ==, !=, <, <=, >, >= or between; default == when --field is given")
		value := fs.String("value", "", "the `value` to compare with: JSON if it parses (42, 2.5, true, \"quoted\"), else a plain string")
		upper := fs.String("upper", "", "between's upper `bound`, read as --value is")
		return func(ctx context.Context, c *client, stdout io.Writer, _ []string) (int, error) {
			if st.Task == "" && st.Field == "" {
				return 0, &usageErr{"give --task, the name of the task to strike, or --field (and --value) to strike the runs of every task whose argument has that field"}
			}
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "value":
					st.Value = jsonValue(*value)
				case "upper":
					st.Upper = jsonValue(*upper)
				}
			})
			if st.Field != "" && st.Op == "" {
				st.Op = "=="
			}
			var ans strikesAnswer
			if err := c.post(ctx, path, st, &ans, http.StatusOK); err != nil {
				return 0, err
			}
			on := "every backend"
			if st.Backend != "" {
				on = "backend " + cell(st.Backend, 0)
			}
			if restore {
				fmt.Fprintf(stdout, "Restored %s on %s.\n", cell(strikeText(st), 0), on)
			} else {
				fmt.Fprintf(stdout, "Struck %s on %s.\n", cell(strikeText(st), 0), on)
			}
			printStrikes(stdout, ans.Strikes)
			return ExitOK, nil
		}
	}
	return cmd
}

func printStrikes(w io.Writer, strikes []strike) {
	rows := make([][2]string, len(strikes))
	for i, st := range strikes {
		rows[i] = [2]string{st.Backend, strikeText(st)}
	}
	printBackendList(w, "No strikes in force.", "Strikes in force:", "STRIKE", rows)
}

// printBackendList prints rows of a backend and a description under title
// and a BACKEND column, or none when there are no rows.
func printBackendList(w io.Writer, none, title, column string, rows [][2]string) {
	if len(rows) == 0 {
		fmt.Fprintln(w, none)
		return
	}
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\t"+column)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", cell(r[0], 0), cell(r[1], 0))
	}
	tw.Flush()
}
