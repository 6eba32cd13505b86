package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
)

// The exit statuses of Run.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitRunFailed: the run that watch followed ended FAILED or CANCELLED.
	ExitRunFailed = 1
	// ExitError: bad usage, or the dashboard could not be reached, refused
	// the request or answered something the command cannot read.
	ExitError = 2
	// ExitInterrupted: ctx ended (SIGINT) before the command finished.
	ExitInterrupted = 130
)

// URLEnv is the environment variable that gives the dashboard's base URL
// when --url does not.
const URLEnv = "LOCALTASKS_URL"

// URLDefault is the dashboard's base URL when neither --url nor URLEnv
// gives one: a dashboard mounted under /tasks on port 8080 of this machine.
const URLDefault = "http://127.0.0.1:8080/tasks"

const usageText = `localtasks inspects and controls the background tasks of a running program
through its dashboard (github.com/localtasks/localtasks/dashboard).

Usage:
  localtasks [--url URL] COMMAND [flags] [ID]

Commands:
  snapshot    every backend's counters, workers, queues, pauses, strikes and runs
  result ID   one run: status, times, attempts, args, value, errors, logs
  watch ID    a run's progress, live, until it finishes
  cancel ID   cancel a queued, scheduled or running run
  retry ID    enqueue a new run of a finished run's task, with its argument
  strike      stop the runs of a task, or those whose argument matches
  restore     lift a strike
  pause       hold back the runs of a queue or a task, without cancelling them
  resume      let the runs of a paused queue or task start again
  help [COMMAND]
              this text, or a command's flags

Global flags (before or after the command):
  --url URL   the dashboard's base URL, the path the program mounts it under
              (default $LOCALTASKS_URL, else http://127.0.0.1:8080/tasks)

ID is a run's ID, or its first 8 or more hex digits: snapshot prints
whole IDs, the dashboard's page the first 8.

cancel, retry, strike, restore, pause and resume need the program to build
its dashboard with dashboard.Config{Actions: true}.

Exit status: 0 on success; 1 when the run watch followed ended FAILED or
CANCELLED; 2 on bad usage, or when the dashboard cannot be reached, refuses
the request or answers something unexpected; 130 when interrupted.
`

// Run runs the localtasks command with args (os.Args[1:]), reading the
// environment through getenv, writing output to stdout and errors to
// stderr, and returns the exit status: ExitOK, ExitRunFailed, ExitError or
// ExitInterrupted. Cancelling ctx (on SIGINT) stops the command.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	defaultURL := URLDefault
	if u := getenv(URLEnv); u != "" {
		defaultURL = u
	}
	global := flag.NewFlagSet("localtasks", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.Usage = func() {}
	baseURL := global.String("url", defaultURL, "")
	switch err := global.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usageText)
		return ExitOK
	case err != nil:
		return usageError(stderr, "", err.Error())
	}
	if global.NArg() == 0 {
		return usageError(stderr, "", "no command given")
	}
	name, rest := global.Arg(0), global.Args()[1:]
	if name == "help" {
		return help(stdout, stderr, rest, *baseURL)
	}
	cmd := lookup(name)
	if cmd == nil {
		return usageError(stderr, "", fmt.Sprintf("unknown command %q", name))
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(baseURL, "url", *baseURL, urlUsage)
	run := cmd.setup(fs)
	pos, err := parseInterspersed(fs, rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		cmd.printHelp(stdout, fs)
		return ExitOK
	case err != nil:
		return usageError(stderr, name, err.Error())
	case cmd.arg != "" && len(pos) == 0:
		return usageError(stderr, name, fmt.Sprintf("no %s given: give the run's %s, as snapshot lists them, or its first %d or more hex digits", cmd.arg, cmd.arg, idPrefixMin))
	case cmd.arg != "" && len(pos) > 1:
		return usageError(stderr, name, fmt.Sprintf("%d arguments %q: give one %s", len(pos), pos, cmd.arg))
	case cmd.arg == "ID" && shortID(pos[0]):
		return usageError(stderr, name, fmt.Sprintf("ID %q is too short: give the run's ID, as snapshot lists it, or its first %d or more hex digits", pos[0], idPrefixMin))
	case cmd.arg == "" && len(pos) != 0:
		return usageError(stderr, name, fmt.Sprintf("unexpected arguments %q: %s takes flags only", pos, name))
	}
	c, err := newClient(*baseURL)
	if err != nil {
		return usageError(stderr, name, err.Error())
	}
	defer c.close()

	code, err := run(ctx, c, stdout, pos)
	var ue *usageErr
	switch {
	case err == nil:
		return code
	case errors.As(err, &ue):
		return usageError(stderr, name, ue.msg)
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "localtasks: interrupted")
		return ExitInterrupted
	}
	fmt.Fprintf(stderr, "localtasks %s: %s\n", name, text(err.Error())) // it may quote the server
	return ExitError
}

// runFunc runs a command whose flags are parsed, with pos its positional
// arguments, and returns its exit status or an error.
type runFunc func(ctx context.Context, c *client, stdout io.Writer, pos []string) (int, error)

// command is one of the subcommands.
type command struct {
	name    string
	arg     string // the one positional argument, as "ID"; "" for none
	summary string // what it does, for its help
	// setup defines the command's flags on fs and returns the function
	// that runs it once they are parsed.
	setup func(fs *flag.FlagSet) runFunc
}

var commands = []*command{
	snapshotCommand, resultCommand, watchCommand, cancelCommand, retryCommand,
	strikeCommand(false), strikeCommand(true), pauseCommand(false), pauseCommand(true),
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (cmd *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	synopsis := "localtasks " + cmd.name + " [flags]"
	if cmd.arg != "" {
		synopsis += " " + cmd.arg
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, cmd.summary)
	printFlags(w, fs)
}

// printFlags lists fs's flags as flag.PrintDefaults does, but spelled
// --name, as the usage text and the error messages spell them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case reflect.TypeOf(f.Value).Elem().Kind() == reflect.String:
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, usage)
	})
}

// idPrefixMin is the fewest hex digits of an ID the dashboard looks a run
// up by (localtasks.IDPrefixMin, which this package does not import).
const idPrefixMin = 8

// shortID reports whether id is hex digits and dashes, as an ID is, but
// fewer than idPrefixMin digits: a prefix too short to look a run up by.
func shortID(id string) bool {
	digits := 0
	for _, c := range id {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			digits++
		case c != '-':
			return false // not an ID at all: the dashboard says so
		}
	}
	return digits < idPrefixMin
}

const urlUsage = "the dashboard's base `URL`, the path the program mounts it under; $" + URLEnv + " when set"

func help(stdout, stderr io.Writer, args []string, baseURL string) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageText)
		return ExitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usageError(stderr, "", fmt.Sprintf("no help for %q: there is no such command", args[0]))
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.String("url", baseURL, urlUsage)
	cmd.setup(fs)
	cmd.printHelp(stdout, fs)
	return ExitOK
}

// usageError reports a mistake in the command line and returns ExitError.
func usageError(stderr io.Writer, cmd, msg string) int {
	if cmd == "" {
		fmt.Fprintf(stderr, "localtasks: %s\nRun 'localtasks help' for usage.\n", msg)
	} else {
		fmt.Fprintf(stderr, "localtasks %s: %s\nRun 'localtasks help %s' for usage.\n", cmd, msg, cmd)
	}
	return ExitError
}

// usageErr is a mistake in the command line found after parsing, such as a
// missing required flag.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

// parseInterspersed parses fs's flags wherever they are among args, so that
// "watch ID --url U" works as "watch --url U ID" does, and returns the other
// arguments in order. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// checkBaseURL checks a --url value and returns it without a trailing
// slash.
func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q is not an http(s) URL: give the dashboard's base URL, such as %s", raw, URLDefault)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url %q has a query or fragment: give the dashboard's base URL only, such as %s", raw, URLDefault)
	}
	return strings.TrimRight(raw, "/"), nil
}
