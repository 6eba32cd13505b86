package localtasks

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/stretchr/testify/require"
)

// The cached codecs of basic types write exactly what a fresh gob encoder
// writes, and read it back, value after value.
func TestBasicCodecMatchesFreshGob(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, -7, 1 << 40} {
		var want bytes.Buffer
		require.NoError(t, gob.NewEncoder(&want).Encode(&n))
		for range 3 {
			got, err := encode[int](n)
			require.NoError(t, err)
			require.Equal(t, want.Bytes(), got, "encoding %d", n)
			back, err := decode[int](got)
			require.NoError(t, err)
			require.Equal(t, n, back)
		}
	}
	for _, s := range []string{"", "héllo", "x"} {
		var want bytes.Buffer
		require.NoError(t, gob.NewEncoder(&want).Encode(&s))
		got, err := encode[string](s)
		require.NoError(t, err)
		require.Equal(t, want.Bytes(), got)
		back, err := decode[string](got)
		require.NoError(t, err)
		require.Equal(t, s, back)
	}
	b := []byte{1, 2, 3}
	got, err := encode[[]byte](b)
	require.NoError(t, err)
	back, err := decode[[]byte](got)
	require.NoError(t, err)
	require.Equal(t, b, back)
	// A fresh decoder reads what the cached encoder wrote, and the other way.
	var x int
	require.NoError(t, gob.NewDecoder(bytes.NewReader(mustEncode(t, 42))).Decode(&x))
	require.Equal(t, 42, x)
}

func mustEncode(t *testing.T, n int) []byte {
	b, err := encode[int](n)
	require.NoError(t, err)
	return b
}
