package localtasks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

var _ localtasks.IDFinder = (*localtasks.ThreadPoolBackend)(nil)
var _ localtasks.IDFinder = (*localtasks.ProcessPoolBackend)(nil)
var _ localtasks.IDFinder = (*localtasks.ImmediateBackend)(nil)
var _ localtasks.IDFinder = (*localtasks.RecordingBackend)(nil)

var prefixEcho = localtasks.Define("idprefix_test.echo", func(ctx context.Context, s string) (string, error) { return s, nil })

// Each run is found by its first 8 digits, as the dashboard shows them,
// in either case, and by longer prefixes with or without dashes.
func TestFindIDsByPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(ctx)) })

	var ids []string
	for range 50 {
		h, err := prefixEcho.Enqueue(ctx, pool, "x")
		require.NoError(t, err)
		ids = append(ids, h.ID())
	}
	for _, id := range ids {
		for _, prefix := range []string{id[:8], strings.ToUpper(id[:8]), id[:13], strings.ReplaceAll(id, "-", ""), id} {
			found, err := pool.FindIDs(ctx, prefix, 2)
			require.NoError(t, err, prefix)
			require.Contains(t, found, id, "prefix %q", prefix)
		}
	}
}

// A prefix too short or not hex is refused with what to give instead.
func TestFindIDsRefusesBadPrefixes(t *testing.T) {
	t.Parallel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	for _, tc := range []struct{ prefix, want string }{
		{"", "too short: give at least 8 hex digits"},
		{"1b4e28b", "too short: give at least 8 hex digits"},
		{"1b4e-28b", "too short"},
		{"1b4e28bz", "is not an ID prefix: an ID has only hex digits and dashes"},
		{"1b4e28ba-2fa1-41d2-883f-0016d3cca4270", "more than an ID's 32"},
	} {
		_, err := pool.FindIDs(context.Background(), tc.prefix, 1)
		require.ErrorIs(t, err, localtasks.ErrInvalidIDPrefix, "prefix %q", tc.prefix)
		require.ErrorContains(t, err, tc.want, "prefix %q", tc.prefix)
	}
}

// BenchmarkFindIDs finds a prefix that matches none of 100,000 finished
// runs: the cost of reading one shard of the store. It reports ns/place,
// a place being one of the shard's slots.
func BenchmarkFindIDs(b *testing.B) {
	ctx := context.Background()
	const runs = 100_000
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{MaxResults: runs}})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, pool.Close(ctx)) })
	for range runs {
		_, err := prefixEcho.Enqueue(ctx, pool, "x")
		require.NoError(b, err)
	}
	require.NoError(b, pool.Drain(ctx))
	b.ResetTimer()
	for b.Loop() {
		ids, err := pool.FindIDs(ctx, "00000000", 2)
		if err != nil || len(ids) > 1 {
			b.Fatal(ids, err)
		}
	}
	// The shard of "00…" holds a sixteenth of the runs, in whole chunks.
	places := float64((runs/16 + 1023) / 1024 * 1024)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/places, "ns/place")
}

// FuzzParseIDPrefix: a prefix parses to its hex digits in lower case,
// without dashes, 8 to 32 of them; anything else is an error matching
// ErrInvalidIDPrefix.
func FuzzParseIDPrefix(f *testing.F) {
	for _, s := range []string{"", "1b4e28ba", "1B4E28BA-2FA1", "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "1b4e28b", "zzzzzzzz", "----", "1b4e28ba-2fa1-41d2-883f-0016d3cca4270"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits, err := localtasks.ParseIDPrefix(s)
		if err != nil {
			require.ErrorIs(t, err, localtasks.ErrInvalidIDPrefix)
			require.Empty(t, digits)
			return
		}
		require.Equal(t, strings.ToLower(strings.ReplaceAll(s, "-", "")), digits)
		require.Regexp(t, `^[0-9a-f]{8,32}$`, digits)
	})
}
