package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/example/tasks"
	"github.com/localtasks/localtasks/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds each wait: for a process's first line, for the runs
// to finish, and for a process to exit after SIGTERM.
const waitTimeout = 60 * time.Second

// TestDistributed runs README.md's command sequence against the PostgreSQL
// of $LOCALTASKS_PG_URL, in a schema of its own: it builds the binary, runs
// -role migrate, starts two workers and the web process, enqueues 10
// fetches and 10 digests through the web process's API, and reads every
// result back through it. Each must be the value the same task code gives
// in this process, and both workers must have run some. Then it stops all
// three with SIGTERM and requires that each exits 0.
func TestDistributed(t *testing.T) {
	url := os.Getenv(pgURLEnv)
	if url == "" {
		t.Fatalf("%s is not set: this test needs PostgreSQL. From the repository's root, run\n"+
			"\teval \"$(adapters/river/scripts/postgres.sh start)\"\n"+
			"then the test again; adapters/river/scripts/postgres.sh stop \"$LOCALTASKS_PG_DIR\" stops the server.", pgURLEnv)
	}
	bin := testkit.Build(t, ".", ".")
	schema := newSchema(t, url)
	want := expected(t)

	// The processes read the database's URL from $LOCALTASKS_PG_URL, as in
	// README.md.
	migrate := exec.Command(bin, "-role", "migrate", "-schema", schema)
	out, err := migrate.CombinedOutput()
	require.NoError(t, err, "-role migrate:\n%s", out)
	require.Equal(t, "River's tables are up to date in schema "+schema+"\n", string(out))

	workers := map[string]*proc{}
	for _, id := range []string{"worker-1", "worker-2"} {
		w := start(t, id, bin, "-role", "worker", "-id", id, "-schema", schema)
		require.Equal(t, "worker "+id+" ready", w.first)
		workers[id] = w
	}
	web := start(t, "web", bin, "-role", "web", "-addr", "127.0.0.1:0", "-schema", schema)
	base, ok := strings.CutPrefix(web.first, "listening on ")
	require.True(t, ok, "the web process's first line is %q, not \"listening on http://HOST:PORT\"", web.first)
	api := &client{t: t, base: base, http: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
	t.Cleanup(api.http.CloseIdleConnections)

	// Enqueue every run first, so that both workers find work.
	runs := map[string]string{} // ID → its URL or seed
	for arg := range want {
		if strings.HasPrefix(arg, "https://") {
			runs[api.enqueue("/fetch?url="+arg)] = arg
		} else {
			runs[api.enqueue("/digest?seed="+arg)] = arg
		}
	}
	require.Len(t, runs, len(want), "every run has an ID of its own")
	require.Equal(t, http.StatusNotFound, api.code("/results/999999999"))
	require.Equal(t, http.StatusNotFound, api.code("/results/not-an-id"))

	ran := map[string]int{} // worker ID → runs whose last attempt it ran
	for id, arg := range runs {
		body := api.await(id)
		require.Equal(t, "SUCCESSFUL", body.Status, "run %s of %s", id, arg)
		require.NotEmpty(t, body.WorkerIDs, "run %s of %s", id, arg)
		require.Equal(t, body.WorkerIDs[len(body.WorkerIDs)-1], body.Worker)
		for _, w := range body.WorkerIDs {
			require.Contains(t, workers, w, "run %s of %s: only the two workers run tasks", id, arg)
		}
		ran[body.Worker]++
		switch body.Task {
		case tasks.Fetch.Name():
			var page tasks.Page
			require.NoError(t, json.Unmarshal(body.Value, &page), "run %s: %s", id, body.Value)
			require.Equal(t, want[arg], page, "run %s of %s", id, arg)
			if arg == "https://example.com/page/7" { // flaky: fails its first attempt
				require.Equal(t, 2, body.Attempts, "run %s of %s", id, arg)
			}
		case tasks.Digest.Name():
			var value string
			require.NoError(t, json.Unmarshal(body.Value, &value), "run %s: %s", id, body.Value)
			// The digest names the process that computed it: the worker's.
			wantValue := fmt.Sprintf("%s (pid %d)", want[arg], workers[body.Worker].cmd.Process.Pid)
			require.Equal(t, wantValue, value, "run %s of %s", id, arg)
		default:
			t.Fatalf("run %s of %s is a run of %q", id, arg, body.Task)
		}
	}
	t.Logf("runs per worker: %v", ran)
	require.Len(t, ran, 2, "both workers ran tasks: %v", ran)

	api.http.CloseIdleConnections()
	stop(t, web, workers["worker-1"], workers["worker-2"])
}

// newSchema names a schema no other run of the test uses, which -role
// migrate creates; it is dropped at the end of the test, after every
// process has exited.
func newSchema(t *testing.T, url string) string {
	t.Helper()
	schema := fmt.Sprintf("distributed_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	return schema
}

// expected runs the runs the test enqueues on a goroutine pool in this
// process, with the same task code the workers run, and returns each
// fetch's page by URL and each digest by seed (without the " (pid N)" that
// names the process).
func expected(t *testing.T) map[string]any {
	t.Helper()
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, pool.Close(ctx)) }()

	pages := map[string]localtasks.Handle[tasks.Page]{}
	digests := map[string]localtasks.Handle[string]{}
	for i := 1; i <= 10; i++ {
		url := fmt.Sprintf("https://example.com/page/%d", i) // page 7 is flaky
		pages[url], err = tasks.Fetch.Enqueue(ctx, pool, url)
		require.NoError(t, err)
		seed := fmt.Sprintf("seed-%d", i)
		digests[seed], err = tasks.Digest.Enqueue(ctx, pool, seed)
		require.NoError(t, err)
	}
	want := map[string]any{}
	for url, h := range pages {
		want[url], err = h.Wait(ctx)
		require.NoError(t, err)
	}
	for seed, h := range digests {
		d, err := h.Wait(ctx)
		require.NoError(t, err)
		want[seed], _, _ = strings.Cut(d, " (pid ")
	}
	return want
}

// client calls the web process's API.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

// enqueue posts to target and returns the new run's ID.
func (c *client) enqueue(target string) string {
	c.t.Helper()
	resp, err := c.http.Post(c.base+target, "", nil)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var body struct{ ID, Error string }
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(c.t, http.StatusAccepted, resp.StatusCode, "POST %s: %s", target, body.Error)
	_, err = strconv.ParseInt(body.ID, 10, 64)
	require.NoError(c.t, err, "POST %s: a run's ID is a River job's", target)
	require.Equal(c.t, "/results/"+body.ID, resp.Header.Get("Location"))
	return body.ID
}

// code returns the status code of GET target.
func (c *client) code(target string) int {
	c.t.Helper()
	resp, err := c.http.Get(c.base + target)
	require.NoError(c.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// resultJSON is GET /results/{id}'s body, with the value left raw.
type resultJSON struct {
	ID        string
	Task      string
	Status    string
	Attempts  int
	Worker    string
	WorkerIDs []string `json:"worker_ids"`
	Value     json.RawMessage
	Error     string
}

// await gets /results/{id} until the run has finished, and returns its body.
//
// GET /results/{id} answers 200 with the run's status, and Retry-After
// while the run is unfinished; the run
// lives in the worker processes and the database: there is nothing in this
// process to wait on, and an HTTP client can only ask again. So this polls,
// every 20ms, until the answer is final or waitTimeout has passed.
func (c *client) await(id string) resultJSON {
	c.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for {
		resp, err := c.http.Get(c.base + "/results/" + id)
		require.NoError(c.t, err)
		var body resultJSON
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		require.NoError(c.t, err, "GET /results/%s", id)
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("GET /results/%s: %d %s: %s", id, resp.StatusCode, body.Status, body.Error)
		}
		require.Equal(c.t, id, body.ID)
		switch body.Status {
		case "SUCCESSFUL", "FAILED", "CANCELLED":
			require.Empty(c.t, resp.Header.Get("Retry-After"), "GET /results/%s of a finished run", id)
			return body
		default:
			require.Equal(c.t, "1", resp.Header.Get("Retry-After"), "GET /results/%s of a run still %s", id, body.Status)
		}
		select {
		case <-tick.C:
		case <-deadline:
			c.t.Fatalf("run %s is still %s after %v", id, body.Status, waitTimeout)
		}
	}
}

// proc is a process of the binary.
type proc struct {
	name   string
	cmd    *exec.Cmd
	first  string        // its first line of stdout
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's, once exited is closed
	stderr *testkit.SyncBuffer
}

// start starts bin with args and waits for its first line. The process is
// killed and reaped at the end of the test if it still runs then, and its
// stderr logged if the test failed.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	stdout := testkit.NewLineCatcher()
	p := &proc{name: name, cmd: exec.Command(bin, args...), exited: make(chan struct{}), stderr: &testkit.SyncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // a backstop: stop has normally reaped it
		<-p.exited
		if t.Failed() {
			t.Logf("%s's stderr:\n%s", name, p.stderr)
		}
	})
	select {
	case p.first = <-stdout.First:
	case <-p.exited:
		t.Fatalf("%s exited before its first line: %v\n%s", name, p.err, p.stderr)
	case <-time.After(waitTimeout):
		t.Fatalf("%s printed nothing within %v", name, waitTimeout)
	}
	return p
}

// stop sends SIGTERM to every process, waits for each to exit, and requires
// the exit status 0 of a graceful stop.
func stop(t *testing.T, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM), p.name)
	}
	deadline := time.After(waitTimeout)
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-deadline:
			t.Fatalf("%s did not exit within %v of SIGTERM", p.name, waitTimeout)
		}
		require.NoError(t, p.err, "%s's exit after SIGTERM; its stderr:\n%s", p.name, p.stderr)
	}
}
