package localtasks

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// FindIDs finds every run whose ID begins with the prefix, up to the
// limit, sorted: here three runs put in the index with IDs that share their
// first 12 digits, as random IDs almost never do.
func TestFindIDsAmbiguousPrefix(t *testing.T) {
	t.Parallel()
	pool, err := NewThreadPool(ThreadPoolConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	s := pool.s

	// The first byte, 0x3a, chooses shard 0xa: the IDs must carry a slot
	// of that shard in their last four bytes, as newID's do.
	const shared = "7a3a9c1e-44f0"
	var recs []*record
	for i := range 3 {
		slot := s.index.shards[0xa].take()<<shardBits | 0xa
		rec := &record{id: fmt.Sprintf("%s-4%03x-8000-0000%08x", shared, 0xc00+i, slot), slot: slot}
		s.index.put(rec)
		recs = append(recs, rec)
	}
	t.Cleanup(func() {
		for _, rec := range recs {
			s.index.del(rec)
		}
	})
	ctx := context.Background()
	ids, err := pool.FindIDs(ctx, "7A3A9C1E", 10)
	require.NoError(t, err)
	require.Equal(t, []string{recs[0].id, recs[1].id, recs[2].id}, ids, "every match, sorted, the prefix in upper case")

	ids, err = pool.FindIDs(ctx, "7a3a9c1e", 2)
	require.NoError(t, err)
	require.Len(t, ids, 2, "no more than the limit")

	ids, err = pool.FindIDs(ctx, "7a3a9c1e-44f0-4c01", 10)
	require.NoError(t, err)
	require.Equal(t, []string{recs[1].id}, ids, "a longer prefix, with dashes, tells them apart")

	ids, err = pool.FindIDs(ctx, "7a3a9c1f", 10)
	require.NoError(t, err)
	require.Empty(t, ids)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = pool.FindIDs(cctx, "7a3a9c1e", 10)
	require.ErrorIs(t, err, context.Canceled)
}
