package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// hostileLog is a message full of markup, as a task may log what it was
// given: the JSON must carry it so that no page can take it for markup.
const hostileLog = `</script><img src=x onerror="alert(1)"> & <b>bold</b>`

var (
	// loggingTask logs on each attempt through Logger(ctx), a record below
	// the kept level among them, and fails its first attempt.
	loggingTask = localtasks.Define("dashboard_test.logging", func(ctx context.Context, shop string) (string, error) {
		log := localtasks.Logger(ctx)
		if localtasks.Attempt(ctx) == 1 {
			log.Info("fetching", "shop", shop, slog.Group("page", "n", 3, "of", 10))
			log.Debug("not kept: below RunLogs.Level")
			log.Warn(hostileLog, "<key>", `"v" & <v>`)
			return "", errors.New("upstream busy")
		}
		log.With("retry", true).Error("second attempt")
		return "fetched " + shop, nil
	})
	// chattyTask logs n records, the second of them long.
	chattyTask = localtasks.Define("dashboard_test.chatty", func(ctx context.Context, n int) (int, error) {
		for i := range n {
			msg := "record"
			if i == 1 {
				msg = strings.Repeat("é", 100) // 200 bytes
			}
			localtasks.Logger(ctx).Info(msg, "i", i)
		}
		return n, nil
	})
)

// quietPool is a thread pool whose Logger discards the records: the
// tests read them from the runs.
func quietPool(t *testing.T, runLogs localtasks.RunLogs) *localtasks.ThreadPoolBackend {
	t.Helper()
	return newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1,
		Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler), RunLogs: runLogs}})
}

// The detail of a run carries its log records, oldest first, labelled by
// attempt; a listing and an event carry only their count.
func TestResultLogs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := quietPool(t, localtasks.RunLogs{})
	h := newHandler(t, false, pool)
	hd, err := loggingTask.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).Enqueue(ctx, pool, "acme")
	require.NoError(t, err)
	res := wait(t, pool, hd.ID())
	require.Equal(t, localtasks.StatusSuccessful, res.Status)

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, 3, task.LogCount)
	require.Zero(t, task.LogsDropped)
	require.Len(t, task.Logs, 3)
	for i, r := range task.Logs {
		require.False(t, r.At.Before(*task.StartedAt), "record %d is not older than the run", i)
		require.False(t, r.At.After(*task.FinishedAt), "record %d is not newer than the run", i)
		task.Logs[i].At = r.At.UTC().Truncate(0) // compared below without it
	}
	require.Equal(t, []dashboard.LogRecord{
		{Attempt: 1, At: task.Logs[0].At, Level: "INFO", Stream: "log", Message: "fetching",
			Attrs: []dashboard.LogAttr{{Key: "shop", Value: "acme"}, {Key: "page.n", Value: "3"}, {Key: "page.of", Value: "10"}}},
		{Attempt: 1, At: task.Logs[1].At, Level: "WARN", Stream: "log", Message: hostileLog,
			Attrs: []dashboard.LogAttr{{Key: "<key>", Value: `"v" & <v>`}}},
		{Attempt: 2, At: task.Logs[2].At, Level: "ERROR", Stream: "log", Message: "second attempt",
			Attrs: []dashboard.LogAttr{{Key: "retry", Value: "true"}}},
	}, task.Logs)

	// The JSON's shape, as docs/api.md shows it.
	detail := raw(t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.NotContains(t, detail, "logs_dropped", "left out for none")
	require.Equal(t, map[string]any{"attempt": float64(2), "at": detail["logs"].([]any)[2].(map[string]any)["at"],
		"level": "ERROR", "stream": "log", "message": "second attempt",
		"attrs": []any{map[string]any{"key": "retry", "value": "true"}}}, detail["logs"].([]any)[2])

	// A listing and an action's answer carry the count alone.
	snap := serve(h, "GET", "/api/snapshot", "")
	require.NotContains(t, snap.Body.String(), `"logs"`)
	finished := decode[dashboard.Snapshot](t, snap).Backends[0].Finished
	require.Len(t, finished, 1)
	require.Equal(t, 3, finished[0].LogCount)
	require.Nil(t, finished[0].Logs)
}

// The markup a task logs reaches the page as JSON text, its <, > and &
// escaped: no parser can take it for markup. (The page puts it in the
// document as text: e2e's TestDashboardRunLogs.)
func TestResultLogsEscapeMarkup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := quietPool(t, localtasks.RunLogs{})
	h := newHandler(t, false, pool)
	hd, err := loggingTask.Enqueue(ctx, pool, "<script>alert(2)</script>") // one attempt: it fails
	require.NoError(t, err)
	wait(t, pool, hd.ID())

	rec := serve(h, "GET", "/api/results/"+hd.ID(), "")
	body := rec.Body.String()
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	for _, markup := range []string{"<script", "</script", "<img", "<b>", "<key>", "<v>", "&"} {
		require.NotContains(t, body, markup)
	}
	require.Contains(t, body, `\u003c/script\u003e\u003cimg src=x onerror=\"alert(1)\"\u003e \u0026 \u003cb\u003ebold\u003c/b\u003e`)
	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, hostileLog, task.Logs[1].Message, "the text itself is unchanged")
	require.Equal(t, "<script>alert(2)</script>", task.Logs[0].Attrs[0].Value)
}

// Past Config.RunLogs' bounds, records are dropped and counted, and a long
// message is cut, marked.
func TestResultLogsDroppedAndCut(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := quietPool(t, localtasks.RunLogs{MaxRecords: 3, MaxBytes: 400}) // a message is cut to 100 bytes
	h := newHandler(t, false, pool)
	hd, err := chattyTask.Enqueue(ctx, pool, 5)
	require.NoError(t, err)
	wait(t, pool, hd.ID())

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, 2, task.LogsDropped)
	require.Equal(t, 5, task.LogCount)
	require.Len(t, task.Logs, 3, "the first 3")
	require.False(t, task.Logs[0].Cut)
	require.True(t, task.Logs[1].Cut)
	require.Equal(t, strings.Repeat("é", 50), task.Logs[1].Message)
	require.Equal(t, []dashboard.LogAttr{{Key: "i", Value: "2"}}, task.Logs[2].Attrs)
	detail := raw(t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, float64(2), detail["logs_dropped"])
	require.Equal(t, true, detail["logs"].([]any)[1].(map[string]any)["cut"])
	require.NotContains(t, detail["logs"].([]any)[0], "cut", "left out when not cut")
}

// With RunLogs.Off, a run keeps no records: the detail has none, and no
// count.
func TestResultLogsOff(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := quietPool(t, localtasks.RunLogs{Off: true})
	h := newHandler(t, false, pool)
	hd, err := chattyTask.Enqueue(ctx, pool, 2)
	require.NoError(t, err)
	wait(t, pool, hd.ID())

	detail := raw(t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	for _, key := range []string{"logs", "logs_dropped", "log_count"} {
		require.NotContains(t, detail, key)
	}
}

// The page has the detail's logs section.
func TestPageHasTheLogsSection(t *testing.T) {
	t.Parallel()
	page := serve(newHandler(t, false, newPool(t, localtasks.ThreadPoolConfig{})), "GET", "/", "").Body.String()
	for _, hook := range []string{
		`<h3 id="detail-logs-heading">Logs</h3>`,
		`<p id="detail-logs-dropped"`,
		`<table id="detail-logs"`,
		`<p id="detail-no-logs" class="empty">`,
	} {
		require.Contains(t, page, hook)
	}
}

// BenchmarkResultLogs measures GET api/results/{id} of a run that kept
// RunLogsMaxRecords records, each of a 60-byte message and two attributes,
// against one that kept none.
func BenchmarkResultLogs(b *testing.B) {
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(b, err)
	defer pool.Close(ctx)
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}})
	require.NoError(b, err)
	for _, n := range []int{0, localtasks.RunLogsMaxRecords} {
		hd, err := benchLogTask.Enqueue(ctx, pool, n)
		require.NoError(b, err)
		res, err := hd.Wait(ctx)
		require.NoError(b, err)
		require.Equal(b, n, res)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := serve(h, http.MethodGet, "/api/results/"+hd.ID(), ""); rec.Code != http.StatusOK {
					b.Fatalf("answered %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// benchLogTask logs n records of a 60-byte message and two attributes.
var benchLogTask = localtasks.Define("dashboard_test.benchlog", func(ctx context.Context, n int) (int, error) {
	log := localtasks.Logger(ctx)
	for i := range n {
		log.Info(strings.Repeat("m", 60), "i", i, "shop", "acme")
	}
	return n, nil
})
