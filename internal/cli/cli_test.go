package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/cli"
)

var poolSeq atomic.Int64

// uniqueName returns a pool name no other test uses, -count=3 included.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, poolSeq.Add(1))
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	name := uniqueName("cli-snapshot")
	e := newEnv(t, envConfig{name: name, workers: 1})
	ctx := context.Background()

	done := finished(t, e.pool, stepArgs{Shop: "a"})
	run, g := running(t, e.pool, true) // takes the only worker
	queued, err := steps.Enqueue(ctx, e.pool, stepArgs{Shop: "q"})
	require.NoError(t, err)
	scheduled, err := steps.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, e.pool, stepArgs{Shop: "s"})
	require.NoError(t, err)
	require.NoError(t, e.pool.Strike(localtasks.Strike{Task: steps.Name(), Field: "Shop", Op: localtasks.OpEqual, Value: "nowhere"}))

	r := e.run(t, "snapshot")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Empty(t, r.stderr)
	out := r.stdout
	require.Contains(t, out, "localtasks, ")
	require.Contains(t, out, "(read-only)")
	require.Contains(t, out, "== backend "+name+" ==")

	// The counters: a header and a row of numbers under it.
	header := lineWith(t, out, "ENQUEUED")
	require.Equal(t, []string{"ENQUEUED", "STARTED", "SUCCEEDED", "FAILED", "RETRIED", "CANCELLED", "STRUCK", "PERPETUATED", "QUEUE", "FULL"}, strings.Fields(header))
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l == header {
			require.Equal(t, []string{"4", "2", "1", "0", "0", "0", "0", "0", "0"}, strings.Fields(lines[i+1]))
		}
	}

	// The worker, running the gated run; a goroutine has no PID or memory.
	require.Equal(t, []string{"WORKER", "PID", "MEMORY", "DONE", "RUNNING"}, strings.Fields(lineWith(t, out, "WORKER")))
	worker := "threadpool:" + name + "/0"
	require.Equal(t, []string{worker, "-", "-", "1", run}, strings.Fields(lineWith(t, out, worker)))

	require.Contains(t, out, "STRIKES\n"+`cli_test.steps where Shop == "nowhere"`+"\n")

	// The runs: queued, scheduled, running, then finished.
	require.Contains(t, out, "1 queued, 1 scheduled, 1 running, 1 recently finished\n")
	require.Contains(t, out, "In all: 1 ready, 1 scheduled, 1 running, 1 successful, 0 failed, 0 cancelled\n")
	require.NotContains(t, out, "More:", "one page holds them all")
	require.Equal(t, []string{"ID", "TASK", "STATUS", "ENQUEUED", "RUN", "AFTER", "STARTED", "FINISHED", "PROGRESS"}, strings.Fields(lineWith(t, out, "PROGRESS")))
	clock := `\d\d:\d\d:\d\d`
	rows := []struct{ id, pattern string }{
		{queued.ID(), `^ID READY ` + clock + ` - - - -$`},
		{scheduled.ID(), `^ID SCHEDULED ` + clock + ` (\d{4}-\d\d-\d\d )?` + clock + ` - - -$`},
		{run, `^ID RUNNING ` + clock + ` - ` + clock + ` - 1/2 50% half way$`},
		{done, `^ID SUCCESSFUL ` + clock + ` - ` + clock + ` ` + clock + ` -$`},
	}
	var at []int
	for _, row := range rows {
		line := lineWith(t, out, "\n"+row.id+" ") // not the worker's line
		fields := strings.Join(strings.Fields(line), " ")
		fields = strings.Replace(fields, row.id+" cli_test.steps", "ID", 1)
		require.Regexp(t, regexp.MustCompile(row.pattern), fields, "row of %s", row.id)
		at = append(at, strings.Index(out, "\n"+row.id+" "))
	}
	require.IsIncreasing(t, at, "rows in the order queued, scheduled, running, finished")

	g.finish <- nil
}

func TestSnapshotFiltersAndJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	done := finished(t, e.pool, stepArgs{})
	run, _ := running(t, e.pool, false)

	r := e.run(t, "snapshot", "--status", "running,ready")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "== backend backend-1 ==")
	require.Contains(t, r.stdout, run)
	require.NotContains(t, r.stdout, done)

	r = e.run(t, "snapshot", "--task", "cli_test.nothing")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "0 queued, 0 scheduled, 0 running, 0 recently finished\n")

	r = e.run(t, "snapshot", "--json")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	var snap struct {
		Backends []struct {
			Name     string
			Finished []struct{ ID string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &snap))
	require.Equal(t, "backend-1", snap.Backends[0].Name)
	require.Equal(t, done, snap.Backends[0].Finished[0].ID)

	r = e.run(t, "snapshot", "--status", "sleeping")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, `localtasks snapshot: status filter: localtasks: unknown task status "sleeping"`)
}

// With --limit, snapshot lists a page, and prints the command that lists
// the next; that command goes on where the page ended.
func TestSnapshotPages(t *testing.T) {
	t.Parallel()
	name := uniqueName("cli-pages")
	e := newEnv(t, envConfig{name: name, workers: 1})
	var ids []string
	for range 3 {
		ids = append(ids, finished(t, e.pool, stepArgs{}))
	}
	args := []string{"snapshot", "--limit", "2", "--task", steps.Name()}
	var seen []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		r := e.run(t, args...)
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
		for _, id := range ids {
			if strings.Contains(r.stdout, "\n"+id+" ") {
				seen = append(seen, id)
			}
		}
		more := regexp.MustCompile(`(?m)^More: localtasks (.*)$`).FindStringSubmatch(r.stdout)
		if more == nil {
			break
		}
		require.Equal(t, "snapshot --task "+steps.Name()+" --limit 2 --backend "+name, strings.Join(strings.Fields(more[1])[:7], " "))
		args = strings.Fields(more[1])
	}
	require.Len(t, seen, 3, "each once")
	require.ElementsMatch(t, ids, seen)
}

func TestSnapshotFinishedLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	var ids []string
	for range 3 {
		ids = append(ids, finished(t, e.pool, stepArgs{}))
	}
	r := e.run(t, "snapshot", "--finished", "2")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "3 recently finished (the latest 2 below; --finished 0 for all)\n")
	require.NotContains(t, r.stdout, ids[0])
	require.Contains(t, r.stdout, ids[2])
}

func TestResultSuccessful(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id := finished(t, e.pool, stepArgs{Shop: "acme", N: 3})

	r := e.run(t, "result", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	field := func(name string) string {
		line := lineWith(t, r.stdout, name+":")
		return strings.TrimSpace(strings.TrimPrefix(line, name+":"))
	}
	require.Equal(t, id, field("ID"))
	require.Equal(t, "cli_test.steps", field("Task"))
	require.Equal(t, "SUCCESSFUL", field("Status"))
	require.Equal(t, "backend-1", field("Backend"))
	require.Equal(t, "default", field("Queue"))
	require.Equal(t, "1", field("Attempts"))
	require.Equal(t, "threadpool:private/0", field("Workers"))
	require.Equal(t, `{"Gate":"","Shop":"acme","N":3}`, field("Args"))
	require.Equal(t, `"done"`, field("Value"))
	require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} `, field("Finished"))
	require.Equal(t, "-", field("Run after"))
	require.NotContains(t, r.stdout, "Errors:")
	require.NotContains(t, r.stdout, "Logs:", "the run logged nothing")

	r = e.run(t, "result", "--json", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	var got struct{ ID, Status string }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, id, got.ID)
	require.Equal(t, "SUCCESSFUL", got.Status)
}

func TestResultFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	h, err := panics.Enqueue(context.Background(), e.pool, struct{}{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err = e.pool.Wait(ctx, h.ID())
	require.NoError(t, err)

	r := e.run(t, "result", h.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Regexp(t, `(?m)^Status: +FAILED$`, r.stdout)
	require.Regexp(t, `(?m)^Value: +null$`, r.stdout)
	errs := r.stdout[strings.Index(r.stdout, "Errors:\n"):]
	require.Regexp(t, `^Errors:\n  attempt 1, \d{4}-\d\d-\d\d [0-9:.]+ \S+: string: kaboom\n    goroutine \d+`, errs)
	require.Contains(t, errs, "\n    github.com/localtasks/localtasks/internal/cli_test.", "the stack names the task's function")
}

func TestWatchSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id, g := running(t, e.pool, false)

	out, errOut := newSyncBuffer(), newSyncBuffer()
	done := e.startCLI(context.Background(), out, errOut, "watch", id)
	out.waitFor(t, "RUNNING\n")
	close(g.step)
	progress := "RUNNING  [" + strings.Repeat("#", 15) + strings.Repeat(".", 15) + "]  50%  1/2  half way\n"
	out.waitFor(t, progress) // drawn before the run can finish
	g.finish <- nil

	require.Equal(t, cli.ExitOK, waitCode(t, done), errOut.String())
	require.Empty(t, errOut.String())
	s := out.String()
	require.True(t, strings.HasPrefix(s, "RUNNING\n"+progress), s)
	require.Regexp(t, `\nSUCCESSFUL  \[#+\.+\]  50%  1/2  half way\nRun `+id+` of cli_test.steps ended SUCCESSFUL( in \S+)?\.\nValue: "done"\n$`, s)
}

func TestWatchFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id, g := running(t, e.pool, false)

	out, errOut := newSyncBuffer(), newSyncBuffer()
	done := e.startCLI(context.Background(), out, errOut, "watch", id)
	out.waitFor(t, "RUNNING\n")
	close(g.step)
	out.waitFor(t, "1/2  half way\n")
	g.finish <- errors.New("disk full")

	require.Equal(t, cli.ExitRunFailed, waitCode(t, done), errOut.String())
	s := out.String()
	require.Contains(t, s, "Run "+id+" of cli_test.steps ended FAILED in ")
	require.Contains(t, s, ", after 1 attempt.\nLast error: *errors.errorString: disk full\n'localtasks result "+id+"' shows every attempt's error, with stacks.\n")
}

func TestWatchFinishedRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id := finished(t, e.pool, stepArgs{})
	r := e.run(t, "watch", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Regexp(t, `^SUCCESSFUL\nRun `+id+` of cli_test.steps ended SUCCESSFUL( in \S+)?\.\nValue: "done"\n$`, r.stdout)
}

func TestWatchQueuedRunCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	_, g := running(t, e.pool, false) // takes the only worker
	h, err := steps.Enqueue(context.Background(), e.pool, stepArgs{})
	require.NoError(t, err)

	out, errOut := newSyncBuffer(), newSyncBuffer()
	done := e.startCLI(context.Background(), out, errOut, "watch", h.ID()[:8]) // by the first 8 digits, as the page shows it
	out.waitFor(t, "READY\n")
	r := e.run(t, "cancel", strings.ToUpper(h.ID()[:13]))
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "Cancelled "+h.ID()+" (cli_test.steps).\n", r.stdout)

	require.Equal(t, cli.ExitRunFailed, waitCode(t, done), errOut.String())
	require.Regexp(t, `^READY\nCANCELLED\nRun `+h.ID()+` of cli_test.steps ended CANCELLED( in \S+)?\.\nReason: .+\n$`, out.String())
	g.finish <- nil
}

func TestWatchInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id, _ := running(t, e.pool, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	done := e.startCLI(ctx, out, errOut, "watch", id)
	out.waitFor(t, "RUNNING\n")
	cancel() // as SIGINT does
	require.Equal(t, cli.ExitInterrupted, waitCode(t, done))
	require.Equal(t, "localtasks: interrupted\n", errOut.String())
}

func TestCancelRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	id, _ := running(t, e.pool, false)

	r := e.run(t, "cancel", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	// The run may have returned already, on its ctx's end.
	require.Regexp(t, `^(Cancelled `+id+` \(cli_test.steps\)\.|Cancelling `+id+` \(cli_test.steps\): it is RUNNING, and ends CANCELLED when its task returns; 'localtasks watch `+id+`' follows it\.)\n$`, r.stdout)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := e.pool.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)

	// Cancelling a cancelled run again is no error; a run that ended
	// otherwise cannot be cancelled.
	r = e.run(t, "cancel", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "Cancelled "+id+" (cli_test.steps).\n", r.stdout)
	done := finished(t, e.pool, stepArgs{})
	r = e.run(t, "cancel", done)
	require.Equal(t, cli.ExitError, r.code)
	require.Equal(t, "localtasks cancel: run "+done+" has finished: only a queued, scheduled or running run can be cancelled\n", r.stderr)
}

func TestRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	id := finished(t, e.pool, stepArgs{Shop: "again"})

	r := e.run(t, "retry", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	m := regexp.MustCompile(`^Enqueued (\S+), a new run of cli_test.steps; 'localtasks watch (\S+)' follows it\.\n$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	require.NotEqual(t, id, m[1])
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := e.pool.Wait(ctx, m[1])
	require.NoError(t, err)
	require.Equal(t, stepArgs{Shop: "again"}, res.Args)
}

func TestStrikeRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	ctx := context.Background()
	enqueue := func(args stepArgs) localtasks.Disposition {
		h, err := steps.Enqueue(ctx, e.pool, args)
		require.NoError(t, err)
		return h.Disposition()
	}

	r := e.run(t, "strike", "--task", "cli_test.steps", "--field", "Shop", "--value", "acme")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, `Struck cli_test.steps where Shop == "acme" on every backend.
Strikes in force:
BACKEND    STRIKE
backend-1  cli_test.steps where Shop == "acme"
`, r.stdout)
	require.Equal(t, localtasks.Struck, enqueue(stepArgs{Shop: "acme"}))
	require.Equal(t, localtasks.Enqueued, enqueue(stepArgs{Shop: "other"}))

	// A number, on one backend, with between.
	r = e.run(t, "strike", "--backend", "backend-1", "--task", "cli_test.steps", "--field", "N", "--op", "between", "--value", "10", "--upper", "20")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "Struck cli_test.steps where N between 10 and 20 on backend backend-1.\n")
	require.Contains(t, r.stdout, "backend-1  cli_test.steps where N between 10 and 20\n")
	require.Equal(t, localtasks.Struck, enqueue(stepArgs{N: 15}))
	require.Equal(t, localtasks.Enqueued, enqueue(stepArgs{N: 21}))

	r = e.run(t, "snapshot")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "STRIKES\ncli_test.steps where Shop == \"acme\"\ncli_test.steps where N between 10 and 20\n")

	r = e.run(t, "restore", "--task", "cli_test.steps", "--field", "Shop", "--value", `"acme"`) // quoted: the same value
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, `Restored cli_test.steps where Shop == "acme" on every backend.
Strikes in force:
BACKEND    STRIKE
backend-1  cli_test.steps where N between 10 and 20
`, r.stdout)
	require.Equal(t, localtasks.Enqueued, enqueue(stepArgs{Shop: "acme"}))

	r = e.run(t, "restore", "--task", "cli_test.steps", "--field", "N", "--op", "between", "--value", "10", "--upper", "20")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "Restored cli_test.steps where N between 10 and 20 on every backend.\nNo strikes in force.\n", r.stdout)
	require.Equal(t, localtasks.Enqueued, enqueue(stepArgs{N: 15}))
	require.Empty(t, e.pool.Strikes())
}

func TestStrikeErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"strike", "--task", "cli_test.steps", "--field", "Shop", "--op", "~", "--value", "x"},
			`unknown operator "~": use one of ==, !=, <, <=, >, >=, between`},
		{[]string{"strike", "--task", "cli_test.steps", "--field", "N", "--value", "2.5"},
			"does not fit a int exactly"},
		{[]string{"strike", "--task", "cli_test.nothing"},
			`no task "cli_test.nothing" is defined`},
		{[]string{"strike", "--backend", "elsewhere", "--task", "cli_test.steps"},
			`no backend "elsewhere": use the name of one the snapshot lists`},
		{[]string{"restore", "--task", "cli_test.steps"},
			"no such strike is in force"},
	} {
		r := e.run(t, tc.args...)
		require.Equal(t, cli.ExitError, r.code, "%q", tc.args)
		require.True(t, strings.HasPrefix(r.stderr, "localtasks "+tc.args[0]+": "), r.stderr)
		require.Contains(t, r.stderr, tc.want, "%q", tc.args)
		require.Empty(t, r.stdout)
	}
	require.Empty(t, e.pool.Strikes())
}

func TestActionsDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id := finished(t, e.pool, stepArgs{})
	const want = "actions are disabled on this dashboard: the application must set dashboard.Config{Actions: true}\n"
	for _, args := range [][]string{
		{"cancel", id},
		{"retry", id},
		{"strike", "--task", "cli_test.steps"},
		{"restore", "--task", "cli_test.steps"},
	} {
		r := e.run(t, args...)
		require.Equal(t, cli.ExitError, r.code, "%q", args)
		require.Equal(t, "localtasks "+args[0]+": "+want, r.stderr)
	}
}

// Every command that takes an ID takes its first 8 or more hex digits.
func TestIDPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	id := finished(t, e.pool, stepArgs{Shop: "acme"})
	r := e.run(t, "result", id[:8])
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "ID: "+id, strings.Join(strings.Fields(lineWith(t, r.stdout, "ID:")), " "))
	r = e.run(t, "retry", id[:8])
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "a new run of cli_test.steps")

	other := "00000000"
	if id[0] == '0' {
		other = "10000000"
	}
	r = e.run(t, "result", other)
	require.Equal(t, cli.ExitError, r.code)
	require.Equal(t, "localtasks result: no run's ID begins with \""+other+"\" on any backend: the ID is unknown, or its result was evicted (Config.MaxResults bounds how many finished runs a backend keeps)\n", r.stderr)
}

func TestUnknownID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, actions: true})
	const id = "00000000-0000-0000-0000-000000000000"
	want := `no run "` + id + `" on any backend: the ID is unknown, or its result was evicted (Config.MaxResults bounds how many finished runs a backend keeps)` + "\n"
	for _, cmd := range []string{"result", "watch", "cancel", "retry"} {
		r := e.run(t, cmd, id)
		require.Equal(t, cli.ExitError, r.code, cmd) // not 1: watch has no run to report on
		require.Equal(t, "localtasks "+cmd+": "+want, r.stderr)
		require.Empty(t, r.stdout)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	base := "http://" + addr + "/tasks"
	for _, args := range [][]string{{"snapshot"}, {"watch", "x"}, {"cancel", "x"}} {
		r := runCLI(t, context.Background(), append([]string{"--url", base}, args...), nil)
		require.Equal(t, cli.ExitError, r.code)
		require.Regexp(t, `^localtasks `+args[0]+`: cannot reach the dashboard at `+regexp.QuoteMeta(base)+
			` \(.*connection refused\): is the program running, and is --url / LOCALTASKS_URL right\?\n$`, r.stderr)
	}
}

func TestNotTheDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	// Outside /tasks, http.StripPrefix answers a plain-text 404.
	r := runCLI(t, context.Background(), []string{"--url", e.srv.URL + "/elsewhere", "snapshot"}, nil)
	require.Equal(t, cli.ExitError, r.code)
	require.Equal(t, "localtasks snapshot: the server at "+e.srv.URL+"/elsewhere/api/snapshot answered GET with something other than the dashboard's JSON "+
		`(404 Not Found, text/plain; charset=utf-8: "404 page not found"): is --url the dashboard's base URL, the path the program mounts it under, such as http://127.0.0.1:8080/tasks?`+"\n", r.stderr)
}

func TestURLFromEnvironment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id := finished(t, e.pool, stepArgs{})
	env := map[string]string{cli.URLEnv: e.url}
	r := runCLI(t, context.Background(), []string{"result", id}, env)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, id)

	// --url wins over the environment, before or after the command.
	env[cli.URLEnv] = "http://127.0.0.1:1/nowhere"
	r = runCLI(t, context.Background(), []string{"result", id, "--url", e.url}, env)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = runCLI(t, context.Background(), []string{"result", id}, env)
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, "cannot reach the dashboard at http://127.0.0.1:1/nowhere")
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runCLI(t, ctx, args, nil)
		require.Equal(t, cli.ExitOK, r.code, "%q", args)
		require.Contains(t, r.stdout, "Usage:\n  localtasks [--url URL] COMMAND [flags] [ID]\n")
		require.Empty(t, r.stderr)
	}
	for _, args := range [][]string{{"help", "watch"}, {"watch", "-h"}} {
		r := runCLI(t, ctx, args, nil)
		require.Equal(t, cli.ExitOK, r.code, "%q", args)
		require.True(t, strings.HasPrefix(r.stdout, "Usage: localtasks watch [flags] ID\n"), r.stdout)
		require.Contains(t, r.stdout, "-url URL")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "localtasks: no command given\nRun 'localtasks help' for usage.\n"},
		{[]string{"frobnicate"}, "localtasks: unknown command \"frobnicate\"\nRun 'localtasks help' for usage.\n"},
		{[]string{"help", "frobnicate"}, "localtasks: no help for \"frobnicate\": there is no such command\nRun 'localtasks help' for usage.\n"},
		{[]string{"result"}, "localtasks result: no ID given: give the run's ID, as snapshot lists them, or its first 8 or more hex digits\nRun 'localtasks help result' for usage.\n"},
		{[]string{"cancel", "3f0c-12a"}, "localtasks cancel: ID \"3f0c-12a\" is too short: give the run's ID, as snapshot lists it, or its first 8 or more hex digits\nRun 'localtasks help cancel' for usage.\n"},
		{[]string{"watch", "a", "b"}, "localtasks watch: 2 arguments [\"a\" \"b\"]: give one ID\nRun 'localtasks help watch' for usage.\n"},
		{[]string{"snapshot", "x"}, "localtasks snapshot: unexpected arguments [\"x\"]: snapshot takes flags only\nRun 'localtasks help snapshot' for usage.\n"},
		{[]string{"snapshot", "--finished", "-1"}, "localtasks snapshot: --finished -1 is negative: give 0 for all, or how many to list\nRun 'localtasks help snapshot' for usage.\n"},
		{[]string{"snapshot", "--nope"}, "localtasks snapshot: flag provided but not defined: -nope\nRun 'localtasks help snapshot' for usage.\n"},
		{[]string{"strike"}, "localtasks strike: give --task, the name of the task to strike, or --field (and --value) to strike the runs of every task whose argument has that field\nRun 'localtasks help strike' for usage.\n"},
		{[]string{"--url", "localhost:8080", "snapshot"}, "localtasks snapshot: --url \"localhost:8080\" is not an http(s) URL: give the dashboard's base URL, such as http://127.0.0.1:8080/tasks\nRun 'localtasks help snapshot' for usage.\n"},
	} {
		r := runCLI(t, ctx, tc.args, nil)
		require.Equal(t, cli.ExitError, r.code, "%q", tc.args)
		require.Equal(t, tc.want, r.stderr, "%q", tc.args)
		require.Empty(t, r.stdout)
	}
}

func TestWatchBackendCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id, _ := running(t, e.pool, false)

	out, errOut := newSyncBuffer(), newSyncBuffer()
	done := e.startCLI(context.Background(), out, errOut, "watch", id)
	out.waitFor(t, "RUNNING\n")
	// The program closes its backend without waiting: the running run
	// ends CANCELLED, and the event stream ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, e.pool.Close(ctx), context.Canceled)

	require.Equal(t, cli.ExitRunFailed, waitCode(t, done), errOut.String())
	require.Contains(t, out.String(), "ended CANCELLED")
	require.Contains(t, out.String(), "Reason: the backend closed while the task was running\n")
}

// A stream that is not a dashboard's (an endless line) ends watch with
// exit status 2 and a clear error, not a process that grows without limit.
func TestWatchEndlessLine(t *testing.T) {
	t.Parallel()
	const id = "0b5b0f3e-8f56-4c43-9a1f-000000000001"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/results/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": %q, "task": "t", "status": "RUNNING"}`, id)
	})
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := []byte(strings.Repeat("x", 64<<10))
		w.Write([]byte("data: "))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	r := runCLI(t, context.Background(), []string{"--url", srv.URL, "watch", id}, nil)
	require.Equal(t, cli.ExitError, r.code, r.stderr)
	require.Contains(t, r.stderr, "localtasks watch: following run "+id+" at "+srv.URL+": the event stream sent a line or an event over 1048576 bytes")
}

// Errors, stacks and values reach the terminal without their control
// characters (clear-screen, window-title and clipboard escapes), with their
// lines kept.
func TestOutputCleansControlCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	h, err := hostile.Enqueue(context.Background(), e.pool, struct{}{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err = e.pool.Wait(ctx, h.ID())
	require.NoError(t, err)

	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"result", h.ID()}, cli.ExitOK}, {[]string{"watch", h.ID()}, cli.ExitRunFailed}} {
		args := c.args
		r := e.run(t, args...)
		require.Equal(t, c.code, r.code, r.stderr)
		require.NotContains(t, r.stdout, "\x1b", args[0])
		require.NotContains(t, r.stdout, "\x07", args[0])
		require.NotContains(t, r.stdout, "\u009b", args[0])
		require.Contains(t, r.stdout, " [2J cleared", args[0])
		require.Regexp(t, `\n +second line\n`, r.stdout, "%s: the message's lines are kept, indented", args[0])
	}
}

// A flag that several commands have reads the same in each one's help:
// the same argument name, and the same words for what it is (before a
// semicolon, where a command says what it does with it); every flag is
// spelled --name, as the usage text and the errors spell flags.
func TestFlagsReadTheSameEverywhere(t *testing.T) {
	t.Parallel()
	flagLine := regexp.MustCompile(`^  (-+)(\S+)( \S+)?$`)
	type seen struct{ cmd, arg, concept string }
	first := map[string]seen{}
	for _, cmd := range []string{"snapshot", "result", "watch", "cancel", "retry", "strike", "restore", "pause", "resume"} {
		r := runCLI(t, context.Background(), []string{"help", cmd}, nil)
		require.Equal(t, cli.ExitOK, r.code)
		_, flags, ok := strings.Cut(r.stdout, "\nFlags:\n")
		require.True(t, ok, "help %s has no Flags section:\n%s", cmd, r.stdout)
		lines := strings.Split(strings.TrimRight(flags, "\n"), "\n")
		require.Zero(t, len(lines)%2, "help %s: a line for each flag, and one for its usage:\n%s", cmd, flags)
		for i := 0; i < len(lines); i += 2 {
			m := flagLine.FindStringSubmatch(lines[i])
			require.NotNil(t, m, "help %s: %q is not a flag's line", cmd, lines[i])
			require.Equal(t, "--", m[1], "help %s spells %q with one dash", cmd, lines[i])
			usage := strings.TrimSpace(lines[i+1])
			concept, _, _ := strings.Cut(usage, ";")
			concept, _, _ = strings.Cut(concept, " (default")
			s := seen{cmd, m[3], concept}
			if f, ok := first[m[2]]; ok {
				require.Equal(t, f.arg, s.arg, "--%s's argument in help %s and help %s", m[2], f.cmd, cmd)
				require.Equal(t, f.concept, s.concept, "--%s's words in help %s and help %s", m[2], f.cmd, cmd)
			} else {
				first[m[2]] = s
			}
		}
	}
	require.Contains(t, first, "backend")
	require.Contains(t, first, "json")
}

// docs/operations.md's reference is what help prints, word for word.
func TestReferenceInDocsIsTheHelp(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	_, ref, ok := strings.Cut(string(doc), "### Reference\n")
	require.True(t, ok, "docs/operations.md has no Reference section")
	blocks := regexp.MustCompile("(?s)```text\n(.*?)```\n").FindAllStringSubmatch(ref, -1)
	cmds := []string{"", "snapshot", "result", "watch", "cancel", "retry", "strike", "restore", "pause", "resume"}
	require.Len(t, blocks, len(cmds), "a block for the usage and one for each command's help")
	for i, cmd := range cmds {
		args := []string{"help"}
		if cmd != "" {
			args = append(args, cmd)
		}
		r := runCLI(t, context.Background(), args, nil)
		require.Equal(t, r.stdout, blocks[i][1], "localtasks %s: run it and paste its output in docs/operations.md", strings.Join(args, " "))
	}
}
