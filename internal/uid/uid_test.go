package uid

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestRandomIsUniqueVersion4(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 10000 {
		id, s := newID()
		u, err := uuid.Parse(s)
		require.NoError(t, err)
		require.Equal(t, id, u)
		require.Equal(t, uuid.Version(4), u.Version())
		require.Equal(t, uuid.RFC4122, u.Variant())
		require.False(t, seen[s], "duplicate id %s", s)
		seen[s] = true
	}
}

func BenchmarkRandom(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = newID()
	}
}

func BenchmarkUUIDNewString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = uuid.NewString()
	}
}

func TestRandomConcurrentUnique(t *testing.T) {
	t.Parallel()
	const goroutines, each = 16, 2000
	ids := make(chan string, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				_, s := newID()
				ids <- s
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[string]bool)
	for s := range ids {
		require.False(t, seen[s], "duplicate id %s", s)
		seen[s] = true
	}
	require.Len(t, seen, goroutines*each)
}

func BenchmarkRandomParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = newID()
		}
	})
}

// newID is a random UUID and its canonical form, as localtasks makes an ID.
func newID() (uuid.UUID, string) {
	u := Random()
	return u, Format(u)
}
