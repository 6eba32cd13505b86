package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/cli"
)

// tagged enqueues a finished run of steps with tags and metadata, and
// returns its ID.
func tagged(t *testing.T, pool localtasks.Backend, tags []string, meta map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	h, err := steps.Using(localtasks.WithTags(tags...), localtasks.WithMetadata(meta)).Enqueue(ctx, pool, stepArgs{})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	return h.ID()
}

// snapshot --tag and --meta list only the runs with the tag and the
// pairs; the command of the next page keeps them.
func TestSnapshotTagFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	acme := tagged(t, e.pool, []string{"billing", "tenant-acme"}, map[string]string{"tenant": "acme", "tier": "gold"})
	other := tagged(t, e.pool, []string{"billing"}, map[string]string{"tenant": "other"})
	plain := finished(t, e.pool, stepArgs{})

	listed := func(args ...string) string {
		t.Helper()
		r := e.run(t, append([]string{"snapshot"}, args...)...)
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
		return r.stdout
	}
	out := listed("--tag", "billing")
	require.Contains(t, out, acme)
	require.Contains(t, out, other)
	require.NotContains(t, out, plain)
	out = listed("--meta", "tenant=acme", "--meta", "tier=gold")
	require.Contains(t, out, acme)
	require.NotContains(t, out, other)
	out = listed("--tag", "billing", "--meta", "tenant=other", "--limit", "1")
	require.Contains(t, out, other)
	require.NotContains(t, out, acme)
	require.Contains(t, out, "More: localtasks snapshot --tag billing --meta tenant=other --limit 1 --backend backend-1 --cursor ")

	r := e.run(t, "snapshot", "--meta", "tenant")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, `"tenant" is not key=value`)
	r = e.run(t, "snapshot", "--tag", "a b")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, "without spaces or commas")
}

// result prints a run's tags on one line and its metadata a pair a line,
// by key; a dash for none.
func TestResultTagsAndMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{workers: 1})
	id := tagged(t, e.pool, []string{"billing", "tenant-acme"}, map[string]string{"tenant": "acme", "request_id": "r-7"})
	r := e.run(t, "result", id)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	lines := strings.Split(r.stdout, "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Metadata:") {
			at = i
		}
	}
	require.GreaterOrEqual(t, at, 0, r.stdout)
	require.Equal(t, []string{"Metadata:", "request_id=r-7"}, strings.Fields(lines[at]))
	require.Equal(t, []string{"tenant=acme"}, strings.Fields(lines[at+1]))
	require.Equal(t, []string{"Tags:", "billing,", "tenant-acme"}, strings.Fields(lineWith(t, r.stdout, "Tags:")))

	plain := finished(t, e.pool, stepArgs{})
	r = e.run(t, "result", plain)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, []string{"Tags:", "-"}, strings.Fields(lineWith(t, r.stdout, "Tags:")))
	require.Equal(t, []string{"Metadata:", "-"}, strings.Fields(lineWith(t, r.stdout, "Metadata:")))
}
