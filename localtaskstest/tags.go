package localtaskstest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Annotate sets each pair of its argument on its run with SetMetadata,
// then returns how many it set.
var Annotate = localtasks.Define("localtaskstest.annotate", func(ctx context.Context, pairs map[string]string) (int, error) {
	for k, v := range pairs {
		localtasks.SetMetadata(ctx, k, v)
	}
	return len(pairs), nil
})

// tagCases are the cases of tags and metadata, for a backend with the
// capability.
func (h *harness) tagCases() []testCase {
	if !h.caps.Tags {
		return nil
	}
	cs := []testCase{{"TagsAndMetadata", testTagsAndMetadata}}
	if h.snapshots {
		cs = append(cs, testCase{"SnapshotByTag", testSnapshotByTag})
	}
	if h.runs {
		cs = append(cs, testCase{"SetMetadata", testSetMetadata})
	}
	return cs
}

func testTagsAndMetadata(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	tags := []string{"billing", "tenant-acme"}
	meta := map[string]string{"request_id": "r-1"}
	hd, err := Echo.Using(localtasks.WithTags(tags...), localtasks.WithMetadata(meta)).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	tags[0], meta["request_id"] = "changed", "changed" // the run keeps copies
	if h.runs {
		_, err = hd.Wait(ctx)
		require.NoError(t, err)
	}
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"billing", "tenant-acme"}, res.Tags)
	require.Equal(t, map[string]string{"request_id": "r-1"}, res.Metadata)

	res.Tags[0], res.Metadata["request_id"] = "mutated", "mutated" // and gives copies
	again, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"billing", "tenant-acme"}, again.Tags)
	require.Equal(t, "r-1", again.Metadata["request_id"])

	plain, err := Echo.Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)
	res, err = plain.Result(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Tags, "a run without tags has none")
	require.Nil(t, res.Metadata)

	_, err = Echo.Using(localtasks.WithTags("has space")).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	_, err = Echo.Using(localtasks.WithMetadata(map[string]string{"": "v"})).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
}

func testSnapshotByTag(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	tagged, err := Echo.Using(localtasks.WithTags("blue"), localtasks.WithMetadata(map[string]string{"tenant": "acme", "tier": "gold"})).
		Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	other, err := Echo.Using(localtasks.WithTags("red"), localtasks.WithMetadata(map[string]string{"tenant": "acme"})).Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)
	_, err = Echo.Enqueue(ctx, b, EchoArgs{N: 3})
	require.NoError(t, err)
	if h.runs {
		require.NoError(t, b.(localtasks.Drainer).Drain(ctx))
	}
	snapper := b.(localtasks.Snapshotter)
	ids := func(opts localtasks.SnapshotOptions) []string {
		t.Helper()
		snap, err := snapper.Snapshot(ctx, opts)
		require.NoError(t, err)
		var out []string
		for _, list := range [][]localtasks.TaskResult{snap.Running, snap.Queued, snap.Scheduled, snap.Finished} {
			for _, r := range list {
				out = append(out, r.ID)
			}
		}
		return out
	}
	require.Equal(t, []string{tagged.ID()}, ids(localtasks.SnapshotOptions{Tag: "blue"}))
	require.Empty(t, ids(localtasks.SnapshotOptions{Tag: "green"}))
	require.ElementsMatch(t, []string{tagged.ID(), other.ID()}, ids(localtasks.SnapshotOptions{Metadata: map[string]string{"tenant": "acme"}}))
	require.Equal(t, []string{tagged.ID()}, ids(localtasks.SnapshotOptions{Metadata: map[string]string{"tenant": "acme", "tier": "gold"}}))
	require.Empty(t, ids(localtasks.SnapshotOptions{Tag: "red", Metadata: map[string]string{"tier": "gold"}}))
	require.Len(t, ids(localtasks.SnapshotOptions{}), 3)

	_, err = snapper.Snapshot(ctx, localtasks.SnapshotOptions{Tag: "a,b"})
	require.ErrorIs(t, err, localtasks.ErrInvalidSnapshotOptions)
	_, err = snapper.Snapshot(ctx, localtasks.SnapshotOptions{Metadata: map[string]string{"a=b": "c"}})
	require.ErrorIs(t, err, localtasks.ErrInvalidSnapshotOptions)
}

func testSetMetadata(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	hd, err := Annotate.Using(localtasks.WithTags("import"), localtasks.WithMetadata(map[string]string{"stage": "queued", "source": "api"})).
		Enqueue(ctx, b, map[string]string{"stage": "done", "rows": "3"})
	require.NoError(t, err)
	n, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"stage": "done", "source": "api", "rows": "3"}, res.Metadata,
		"SetMetadata adds and replaces pairs, and they outlast the run")
	require.Equal(t, []string{"import"}, res.Tags)

	// Outside a task it does nothing, and does not panic.
	localtasks.SetMetadata(ctx, "k", "v")

	// A pair that breaks the rules is dropped; the task goes on.
	bad, err := Annotate.Enqueue(ctx, b, map[string]string{"": "empty key"})
	require.NoError(t, err)
	_, err = bad.Wait(ctx)
	require.NoError(t, err)
	res, err = bad.Result(ctx)
	require.NoError(t, err)
	require.Nil(t, res.Metadata)

	if sub == nil {
		return
	}
	metas := 0
	for {
		select {
		case ev := <-sub.C():
			if ev.Result.ID != hd.ID() {
				continue
			}
			if ev.Kind == localtasks.EventMetadata {
				metas++
				require.Equal(t, "api", ev.Result.Metadata["source"])
			}
			if ev.Kind == localtasks.EventFinished {
				require.Equal(t, 2, metas, "each pair set is an event, before the finish")
				return
			}
		case <-ctx.Done():
			t.Fatalf("metadata events so far: %d", metas)
		}
	}
}
