package uid

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestNewIsUniqueVersion4(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 10000 {
		id, s := New()
		u, err := uuid.Parse(s)
		require.NoError(t, err)
		require.Equal(t, id, u)
		require.Equal(t, uuid.Version(4), u.Version())
		require.Equal(t, uuid.RFC4122, u.Variant())
		require.False(t, seen[s], "duplicate id %s", s)
		seen[s] = true
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = New()
	}
}

func BenchmarkUUIDNewString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = uuid.NewString()
	}
}
