package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// annotateTask sets a metadata pair, then runs until it is cancelled.
var annotateTask = localtasks.Define("dashboard_test.annotate", func(ctx context.Context, stage string) (int, error) {
	localtasks.SetMetadata(ctx, "stage", stage)
	<-ctx.Done()
	return 0, ctx.Err()
})

// The event stream coalesces a metadata event as it does progress: it
// does not hide the start of the same flush, and the news has the run's
// metadata and tags.
func TestEventsMetadataDoesNotHideTheStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	dashboard.SetFlush(h, time.Hour, 64) // flushed by the test alone
	stream := openEvents(t, h, "")
	stream.firstStats()

	sub := pool.Subscribe(0)
	defer sub.Close()
	hd, err := annotateTask.Using(localtasks.WithTags("import")).Enqueue(ctx, pool, "loaded")
	require.NoError(t, err)
	waitEvent(t, sub, hd.ID(), localtasks.EventMetadata) // enqueued, started, metadata: one flush
	dashboard.FlushEvents(t, h)
	ev := stream.nextTask()
	require.Equal(t, hd.ID(), ev.Task.ID)
	require.Equal(t, "started", ev.Kind, "metadata does not hide the start")
	require.Equal(t, map[string]string{"stage": "loaded"}, ev.Task.Metadata)
	require.Equal(t, []string{"import"}, ev.Task.Tags)
}

// A run's tags and metadata are in the API's JSON, left out for a run
// without; tag and meta filter api/snapshot, and bad ones are a 400.
func TestSnapshotTagsAndMetadata(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	rec, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close(ctx) })
	acme, err := echoTask.Using(localtasks.WithTags("billing", "tenant-acme"), localtasks.WithMetadata(map[string]string{"tenant": "acme", "tier": "gold"})).
		Enqueue(ctx, rec, shopArgs{Shop: "acme"})
	require.NoError(t, err)
	other, err := echoTask.Using(localtasks.WithTags("billing"), localtasks.WithMetadata(map[string]string{"tenant": "other"})).
		Enqueue(ctx, rec, shopArgs{Shop: "other"})
	require.NoError(t, err)
	plain, err := echoTask.Enqueue(ctx, rec, shopArgs{})
	require.NoError(t, err)
	h := newHandler(t, false, rec)

	queued := func(query string) []string {
		t.Helper()
		snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot"+query, ""))
		return ids(snap.Backends[0].Queued)
	}
	require.ElementsMatch(t, []string{acme.ID(), other.ID(), plain.ID()}, queued(""))
	require.ElementsMatch(t, []string{acme.ID(), other.ID()}, queued("?tag=billing"))
	require.Equal(t, []string{acme.ID()}, queued("?tag=tenant-acme"))
	require.Equal(t, []string{acme.ID()}, queued("?meta=tenant%3Dacme"))
	require.Equal(t, []string{acme.ID()}, queued("?tag=billing&meta=tenant=acme&meta=tier=gold"))
	require.Empty(t, queued("?tag=billing&meta=tier=silver"))
	require.Empty(t, queued("?tag=nowhere"))

	snap := decode[dashboard.Snapshot](t, serve(h, "GET", "/api/snapshot?tag=tenant-acme", ""))
	got := snap.Backends[0].Queued[0]
	require.Equal(t, []string{"billing", "tenant-acme"}, got.Tags)
	require.Equal(t, map[string]string{"tenant": "acme", "tier": "gold"}, got.Metadata)
	body := serve(h, "GET", "/api/results/"+plain.ID(), "").Body.String()
	require.NotContains(t, body, `"tags"`, "a run without tags leaves them out")
	require.NotContains(t, body, `"metadata"`)
	require.Contains(t, serve(h, "GET", "/api/results/"+acme.ID(), "").Body.String(), `"tags":["billing","tenant-acme"]`)

	for _, query := range []string{"?tag=a,b", "?tag=a+b", "?tag=x&tag=y", "?meta=novalue", "?meta==v", "?meta=k=1&meta=k=2", "?meta=a=b=c%00"} {
		t.Run(query, func(t *testing.T) {
			requireError(t, serve(h, "GET", "/api/snapshot"+query, ""), http.StatusBadRequest, dashboard.CodeBadRequest)
		})
	}
}

// The page has the tag and metadata filters and the detail's fields.
func TestPageHasTagHooks(t *testing.T) {
	t.Parallel()
	page := serve(newHandler(t, false, newPool(t, localtasks.ThreadPoolConfig{})), "GET", "/", "").Body.String()
	for _, hook := range []string{
		`<label for="tag-filter">`,
		`<input id="tag-filter"`,
		`<label for="meta-filter">`,
		`<input id="meta-filter"`,
		`id="detail-tags"`,
		`id="detail-metadata"`,
	} {
		require.Contains(t, page, hook)
	}
}

// FuzzParseTagFilter checks the reading of api/snapshot's tag and meta
// parameters: it never panics, refuses with 400 what it refuses, and what
// it accepts reads again, the same, from a query made of it.
func FuzzParseTagFilter(f *testing.F) {
	for _, seed := range []string{"", "tag=billing", "meta=tenant=acme", "tag=a&meta=k=v&meta=j=", "meta=k", "meta==v", "tag=x&tag=y", "meta=k=1&meta=k=2", "meta=%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tag, meta, err := dashboard.ParseTagFilter(raw)
		if err != nil {
			require.Equal(t, http.StatusBadRequest, dashboard.StatusOf(err))
			return
		}
		q := url.Values{}
		if tag != "" {
			q.Set("tag", tag)
		}
		for k, v := range meta {
			require.NotEmpty(t, k)
			q.Add("meta", k+"="+v)
		}
		tag2, meta2, err := dashboard.ParseTagFilter(q.Encode())
		require.NoError(t, err)
		require.Equal(t, tag, tag2)
		require.Equal(t, meta, meta2)
	})
}
