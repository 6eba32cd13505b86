package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/cli"
)

var (
	// importing logs on each attempt through Logger(ctx), escape sequences
	// among the text, and fails its first attempt.
	importing = localtasks.Define("cli_test.importing", func(ctx context.Context, shop string) (int, error) {
		log := localtasks.Logger(ctx)
		if localtasks.Attempt(ctx) == 1 {
			log.Info("importing", "shop", shop, "note", "two words", "empty", "")
			log.Warn("\x1b[2J cleared\nsecond line", "k\x1b]0;t\x07", "v")
			return 0, errors.New("upstream busy")
		}
		log.Error("importing again", slog.Group("file", "rows", 1200))
		return 1200, nil
	})
	// chatter logs n records.
	chatter = localtasks.Define("cli_test.chatter", func(ctx context.Context, n int) (int, error) {
		for i := range n {
			localtasks.Logger(ctx).Info("line", "i", i)
		}
		return n, nil
	})
)

// fullTime matches formatFullTime's times.
var fullTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+`)

// result prints a run's log records after its other fields, a line each,
// its terminal escape sequences turned into spaces; --json carries them.
func TestResultLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	h, err := importing.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).Enqueue(context.Background(), e.pool, "acme")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err = h.Wait(ctx)
	require.NoError(t, err)

	r := e.run(t, "result", h.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	logs := r.stdout[strings.Index(r.stdout, "\nLogs:\n")+1:]
	require.Less(t, strings.Index(r.stdout, "\nErrors:\n"), strings.Index(r.stdout, "\nLogs:\n"), "after the other fields")
	require.Equal(t, "Logs:\n"+
		"  TIME  attempt 1  INFO   log  importing shop=acme note=\"two words\" empty=\"\"\n"+
		"  TIME  attempt 1  WARN   log   [2J cleared second line k ]0;t =v\n"+
		"  TIME  attempt 2  ERROR  log  importing again file.rows=1200\n",
		fullTime.ReplaceAllString(logs, "TIME"))
	require.NotContains(t, r.stdout, "\x1b")

	r = e.run(t, "result", "--json", h.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	var got struct {
		Logs []struct {
			Attempt int
			Level   string
			Message string
			Attrs   []struct{ Key, Value string }
		}
		LogCount int `json:"log_count"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Len(t, got.Logs, 3)
	require.Equal(t, 3, got.LogCount)
	require.Equal(t, "\x1b[2J cleared\nsecond line", got.Logs[1].Message, "the JSON as the dashboard gave it")
	require.Equal(t, 2, got.Logs[2].Attempt)
}

// Past Config.RunLogs' bounds, result says how many records were dropped.
func TestResultLogsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1, runLogs: localtasks.RunLogs{MaxRecords: 2}})
	h, err := chatter.Enqueue(context.Background(), e.pool, 5)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err = h.Wait(ctx)
	require.NoError(t, err)

	r := e.run(t, "result", h.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	logs := r.stdout[strings.Index(r.stdout, "\nLogs:\n")+1:]
	require.Equal(t, "Logs:\n"+
		"  TIME  attempt 1  INFO  log  line i=0\n"+
		"  TIME  attempt 1  INFO  log  line i=1\n"+
		"  3 records dropped: Config.RunLogs keeps 200 records or 64 KiB a run by default; the earlier attempts' make room for the latest's, whose first records are kept.\n",
		fullTime.ReplaceAllString(logs, "TIME"))

	r = e.run(t, "result", "--json", h.ID())
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	var got struct {
		LogsDropped int `json:"logs_dropped"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, 3, got.LogsDropped)
}
