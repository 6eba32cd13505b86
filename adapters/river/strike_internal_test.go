package river

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
	"github.com/localtasks/localtasks/localtaskstest"
)

// BenchmarkStrikeMatch is what the strikes add to an Enqueue and to a
// run's start: with none in force, and with one that does not match.
func BenchmarkStrikeMatch(b *testing.B) {
	def := localtaskstest.Echo.Definition()
	var args any = localtaskstest.EchoArgs{N: 1} // as Enqueue has it
	for _, n := range []int{0, 1} {
		b.Run(map[int]string{0: "none", 1: "one"}[n], func(b *testing.B) {
			s := &strikeCache{}
			set := &strikeSet{}
			if n > 0 {
				st := localtasks.Strike{Task: def.Name(), Field: "N", Op: localtasks.OpEqual, Value: 7}
				r, err := backendkit.CompileStrike(st)
				require.NoError(b, err)
				set.list, set.rules, set.ids = []localtasks.Strike{st}, []*backendkit.StrikeRule{r}, []int64{1}
			}
			s.cur.Store(set)
			b.ReportAllocs()
			for b.Loop() {
				if s.match(def, args) != nil {
					b.Fatal("struck")
				}
			}
		})
	}
}

// The values a strike can have survive the table of strikes as the type
// they were given as.
func TestStrikeValueEncoding(t *testing.T) {
	for _, v := range []any{nil, -7, int8(-3), int64(1) << 62, uint(7), uint64(1) << 63, uintptr(9), float32(0.1), 0.1, "a, \"b\"\n", true} {
		text, typ, err := encodeStrikeValue(v)
		require.NoError(t, err)
		got, err := decodeStrikeValue(typ, text)
		require.NoError(t, err)
		require.Equal(t, v, got, "%T", v)
	}
	_, _, err := encodeStrikeValue([]int{1})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	_, err = decodeStrikeValue("complex128", "1")
	require.Error(t, err)
}
