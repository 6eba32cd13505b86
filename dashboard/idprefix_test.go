package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// The routes that take an ID take its first 8 or more hex digits too, as
// the page and the CLI show IDs cut short.
func TestIDPrefixes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, true, pool)
	hd, err := blockTask.Enqueue(ctx, pool, shopArgs{Shop: "acme"})
	require.NoError(t, err)
	id := hd.ID()

	for _, prefix := range []string{id[:8], strings.ToUpper(id[:8]), id[:13], strings.ReplaceAll(id, "-", "")} {
		task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+prefix, ""))
		require.Equal(t, id, task.ID, "GET by the prefix %q", prefix)
	}

	e := requireError(t, serve(h, "GET", "/api/results/"+id[:7], ""), http.StatusBadRequest, dashboard.CodeBadRequest)
	require.Contains(t, e.Message, "too short: give at least 8 hex digits")
	e = requireError(t, serve(h, "GET", "/api/results/"+otherPrefix(id), ""), http.StatusNotFound, dashboard.CodeNotFound)
	require.Contains(t, e.Message, "no run's ID begins with")
	e = requireError(t, serve(h, "GET", "/api/results/not-an-id", ""), http.StatusNotFound, dashboard.CodeNotFound)
	require.Contains(t, e.Message, "it is not an ID; give a run's ID, or its first 8 or more hex digits")

	rec := serve(h, "POST", "/api/results/"+id[:8]+"/cancel", "")
	task := decode[dashboard.Task](t, rec)
	require.Equal(t, id, task.ID, "cancel by a prefix")
	wait(t, pool, id)
	rec = serve(h, "POST", "/api/results/"+id[:8]+"/retry", "")
	require.Equal(t, http.StatusCreated, rec.Code, "retry by a prefix: %s", rec.Body)
}

// otherPrefix returns 8 hex digits that begin no ID of a pool holding only
// the run id, but for a chance of 1 in 4 billion a run.
func otherPrefix(id string) string {
	if id[0] == '0' {
		return "10000000"
	}
	return "00000000"
}

// twins is a backend whose FindIDs finds n runs for any prefix, as random
// IDs almost never share 8 digits.
type twins struct {
	localtasks.Controller
	n int
}

func (b twins) FindIDs(ctx context.Context, prefix string, limit int) ([]string, error) {
	var ids []string
	for i := range min(b.n, limit) {
		ids = append(ids, fmt.Sprintf("%s-0000-4000-8000-%012x", prefix, i))
	}
	return ids, nil
}

// An ambiguous prefix is a 409 that lists the runs it may mean, at most 5.
func TestAmbiguousIDPrefix(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	e := requireError(t, serve(newHandler(t, false, twins{pool, 2}), "GET", "/api/results/7a3a9c1e", ""),
		http.StatusConflict, dashboard.CodeAmbiguousID)
	require.Equal(t, `the ID prefix "7a3a9c1e" begins the IDs of more than one run: `+
		`7a3a9c1e-0000-4000-8000-000000000000 (backend backend-1), 7a3a9c1e-0000-4000-8000-000000000001 (backend backend-1); give more of the ID`, e.Message)

	e = requireError(t, serve(newHandler(t, false, twins{pool, 100}), "GET", "/api/results/7a3a9c1e", ""),
		http.StatusConflict, dashboard.CodeAmbiguousID)
	require.Equal(t, 5, strings.Count(e.Message, "(backend backend-1)"), e.Message)
	require.Contains(t, e.Message, "000000000004 (backend backend-1), and more; give more of the ID")
}

// A run's argument comes whole in args, and cut short in args_summary.
func TestArgsSummary(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	short, err := echoTask.Enqueue(ctx, pool, shopArgs{Shop: "acme", N: 1})
	require.NoError(t, err)
	long, err := echoTask.Enqueue(ctx, pool, shopArgs{Shop: strings.Repeat("é<", 1000), N: 2})
	require.NoError(t, err)

	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+short.ID(), ""))
	require.Equal(t, `{"Shop":"acme","N":1}`, task.ArgsSummary)

	task = decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+long.ID(), ""))
	require.Greater(t, len(task.Args), 4000)
	require.Equal(t, dashboard.ArgsSummaryMax, utf8.RuneCountInString(task.ArgsSummary))
	require.True(t, strings.HasPrefix(string(task.Args), strings.TrimSuffix(task.ArgsSummary, "…")), task.ArgsSummary)
	require.True(t, strings.HasSuffix(task.ArgsSummary, "…"))
}

// plain is a backend with none of the optional interfaces, as another
// package's backend may be, whose IDs need not be UUIDs (River's are
// numbers).
type plain struct{ localtasks.Backend }

// Without a backend that finds runs by prefix, an ID no backend knows is
// a 404, however short: on another backend "42" may be a whole ID.
func TestIDPrefixWithoutFinders(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	hd, err := echoTask.Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	wait(t, pool, hd.ID())
	h := newHandler(t, false, plain{pool})
	requireError(t, serve(h, "GET", "/api/results/42", ""), http.StatusNotFound, dashboard.CodeNotFound)
	e := requireError(t, serve(h, "GET", "/api/results/"+hd.ID()[:8], ""), http.StatusNotFound, dashboard.CodeNotFound)
	require.Contains(t, e.Message, "no run's ID begins with")
	task := decode[dashboard.Task](t, serve(h, "GET", "/api/results/"+hd.ID(), ""))
	require.Equal(t, hd.ID(), task.ID, "a whole ID, as ever")
}
