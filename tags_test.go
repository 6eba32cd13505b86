package localtasks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// The rules of tags and metadata, each refused at Enqueue with an error
// that says what to do.
func TestTagsAndMetadataRules(t *testing.T) {
	t.Parallel()
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(context.Background())
	many := func(n int) []string {
		tags := make([]string, n)
		for i := range tags {
			tags[i] = "t" + strings.Repeat("x", i)
		}
		return tags
	}
	manyPairs := make(map[string]string)
	for i := range localtasks.MaxMetadata + 1 {
		manyPairs[strings.Repeat("k", i+1)] = "v"
	}
	for _, c := range []struct {
		name string
		opt  localtasks.Option
		want string // "" for valid
	}{
		{"tags", localtasks.WithTags("billing", "tenant-42", "über"), ""},
		{"MaxTags", localtasks.WithTags(many(localtasks.MaxTags)...), ""},
		{"too many tags", localtasks.WithTags(many(localtasks.MaxTags + 1)...), "more than MaxTags"},
		{"empty tag", localtasks.WithTags(""), "a tag is empty"},
		{"long tag", localtasks.WithTags(strings.Repeat("a", localtasks.MaxTagLength+1)), "longer than MaxTagLength"},
		{"tag with a space", localtasks.WithTags("a b"), "without spaces or commas"},
		{"tag with a comma", localtasks.WithTags("a,b"), "without spaces or commas"},
		{"tag with a newline", localtasks.WithTags("a\n"), "without spaces or commas"},
		{"tag not UTF-8", localtasks.WithTags("\xff"), "not valid UTF-8"},
		{"metadata", localtasks.WithMetadata(map[string]string{"request_id": "r 1", "empty": ""}), ""},
		{"too many pairs", localtasks.WithMetadata(manyPairs), "more than MaxMetadata"},
		{"empty key", localtasks.WithMetadata(map[string]string{"": "v"}), "key is empty"},
		{"long key", localtasks.WithMetadata(map[string]string{strings.Repeat("k", localtasks.MaxMetadataKeyLength+1): "v"}), "longer than MaxMetadataKeyLength"},
		{"key with =", localtasks.WithMetadata(map[string]string{"a=b": "v"}), `without "="`},
		{"long value", localtasks.WithMetadata(map[string]string{"k": strings.Repeat("v", localtasks.MaxMetadataValueLength+1)}), "more than MaxMetadataValueLength"},
		{"value with a control character", localtasks.WithMetadata(map[string]string{"k": "a\x00b"}), "without control characters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := localtaskstest.Echo.Using(c.opt).Enqueue(context.Background(), b, localtaskstest.EchoArgs{})
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, localtasks.ErrInvalidTask)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// Using's tags and metadata replace the task's, as a River insert's do;
// WithTags keeps a tag given twice once, and copies what it is given.
func TestTagsReplaceDefaults(t *testing.T) {
	t.Parallel()
	task := localtaskstest.Echo.Using(localtasks.WithTags("a", "b", "a"), localtasks.WithMetadata(map[string]string{"x": "1"}))
	require.Equal(t, []string{"a", "b"}, task.Options().Tags)

	tags := []string{"c"}
	opt := localtasks.WithTags(tags...)
	tags[0] = "changed"
	over := task.Using(opt, localtasks.WithMetadata(map[string]string{"y": "2"}))
	require.Equal(t, []string{"c"}, over.Options().Tags)
	require.Equal(t, map[string]string{"y": "2"}, over.Options().Metadata)
	require.Equal(t, []string{"a", "b"}, task.Options().Tags, "the task's own are unchanged")

	added := task.Using(localtasks.WithTags(append(task.Options().Tags, "c")...))
	require.Equal(t, []string{"a", "b", "c"}, added.Options().Tags)
	cleared := task.Using(localtasks.WithTags(), localtasks.WithMetadata(nil))
	require.Nil(t, cleared.Options().Tags)
	require.Nil(t, cleared.Options().Metadata)
}

// A backend copies the tags and metadata of Options passed to it directly.
func TestTagsCopiedAtEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	opts := localtasks.Options{Tags: []string{"a"}, Metadata: map[string]string{"k": "v"}}
	r, err := b.Enqueue(ctx, localtaskstest.Echo.Definition(), localtaskstest.EchoArgs{}, opts)
	require.NoError(t, err)
	opts.Tags[0], opts.Metadata["k"] = "changed", "changed"
	res, err := b.GetResult(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, res.Tags)
	require.Equal(t, map[string]string{"k": "v"}, res.Metadata)
}

// A run holds MaxMetadata pairs at most: SetMetadata of a new key beyond
// them is dropped, while replacing one's value still works.
func TestSetMetadataBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	full := make(map[string]string)
	for i := range localtasks.MaxMetadata {
		full[strings.Repeat("k", i+1)] = "v"
	}
	hd, err := localtaskstest.Annotate.Using(localtasks.WithMetadata(full)).
		Enqueue(ctx, b, map[string]string{"new": "dropped", "k": "replaced"})
	require.NoError(t, err)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Len(t, res.Metadata, localtasks.MaxMetadata)
	require.Equal(t, "replaced", res.Metadata["k"])
	require.NotContains(t, res.Metadata, "new")
}

// Tags and metadata survive a restart on a journal: a finished run keeps
// what the task set, and a perpetual chain's scheduled successor keeps the
// chain's, through to its own run.
func TestJournalTagsAndMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := localtaskstest.NewMemoryJournal()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := journalPool(t, t.Name(), j, clock, 1)
	annotated, err := localtaskstest.Annotate.Using(localtasks.WithTags("import"), localtasks.WithMetadata(map[string]string{"source": "api"})).
		Enqueue(ctx, b, map[string]string{"rows": "3"})
	require.NoError(t, err)
	_, err = annotated.Wait(ctx)
	require.NoError(t, err)
	chain, err := journaledEvery.Using(localtasks.WithTags("nightly"), localtasks.WithMetadata(map[string]string{"owner": "ops"})).Enqueue(ctx, b, 1)
	require.NoError(t, err)
	_, err = chain.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx)) // commits what is left; the successor stays scheduled in the journal

	b2 := journalPool(t, t.Name(), j.Crash(), clock, 1)
	defer b2.Close(ctx)
	res, err := b2.GetResult(ctx, annotated.ID())
	require.NoError(t, err)
	require.Equal(t, []string{"import"}, res.Tags)
	require.Equal(t, map[string]string{"source": "api", "rows": "3"}, res.Metadata)

	snap, err := b2.Snapshot(ctx, localtasks.SnapshotOptions{Tag: "nightly", Statuses: []localtasks.Status{localtasks.StatusScheduled}})
	require.NoError(t, err)
	require.Len(t, snap.Scheduled, 1)
	next := snap.Scheduled[0]
	require.NotEqual(t, chain.ID(), next.ID)
	require.Equal(t, map[string]string{"owner": "ops"}, next.Metadata)

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Hour)
	res, err = b2.Wait(ctx, next.ID)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	snap, err = b2.Snapshot(ctx, localtasks.SnapshotOptions{Tag: "nightly", Statuses: []localtasks.Status{localtasks.StatusScheduled}})
	require.NoError(t, err)
	require.Len(t, snap.Scheduled, 1, "the successor's successor, after the restart, keeps the chain's tags")
	require.Equal(t, map[string]string{"owner": "ops"}, snap.Scheduled[0].Metadata)
}
