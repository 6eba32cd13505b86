package pqueue

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrderHighestFirstFIFOWithin(t *testing.T) {
	t.Parallel()
	type item struct{ prio, seq int }
	var q Queue[item]
	var want []item
	r := rand.New(rand.NewPCG(1, 2))
	for seq := range 5000 {
		it := item{prio: r.IntN(levels) + Min, seq: seq}
		q.Push(it.prio, it)
		want = append(want, it)
	}
	sort.SliceStable(want, func(i, j int) bool { return want[i].prio > want[j].prio })
	require.Equal(t, len(want), q.Len())
	for i, w := range want {
		got, ok := q.Pop()
		require.True(t, ok)
		require.Equal(t, w, got, "item %d", i)
	}
	_, ok := q.Pop()
	require.False(t, ok)
	require.Zero(t, q.Len())
}

func TestInterleavedPushPopWrapsRing(t *testing.T) {
	t.Parallel()
	var q Queue[int]
	next := 0
	for round := range 100 {
		for range 7 {
			q.Push(0, next)
			next++
		}
		for range 5 {
			_, ok := q.Pop()
			require.True(t, ok, "round %d", round)
		}
	}
	var got []int
	q.Drain(func(v int) { got = append(got, v) })
	require.Len(t, got, 200)
	require.True(t, sort.IntsAreSorted(got), "FIFO order lost across ring growth: %v", got)
}

func TestBounds(t *testing.T) {
	t.Parallel()
	var q Queue[string]
	q.Push(Min, "low")
	q.Push(Max, "high")
	v, _ := q.Pop()
	require.Equal(t, "high", v)
	v, _ = q.Pop()
	require.Equal(t, "low", v)
	require.Panics(t, func() { q.Push(Max+1, "x") })
	require.Panics(t, func() { q.Push(Min-1, "x") })
}

func BenchmarkPushPop(b *testing.B) {
	var q Queue[*int]
	v := new(int)
	b.ReportAllocs()
	for i := range b.N {
		q.Push(i%3, v)
		if i%4 == 3 {
			for q.Len() > 0 {
				q.Pop()
			}
		}
	}
}

func TestPushFront(t *testing.T) {
	t.Parallel()
	var q Queue[int]
	for i := range 20 {
		q.Push(0, i)
	}
	q.Push(5, 100)
	first, _ := q.Pop()
	second, _ := q.Pop()
	require.Equal(t, []int{100, 0}, []int{first, second})
	q.PushFront(0, second) // put back: it is next again
	q.PushFront(5, first)
	var got []int
	q.Drain(func(v int) { got = append(got, v) })
	require.Equal(t, append([]int{100}, func() []int {
		var s []int
		for i := range 20 {
			s = append(s, i)
		}
		return s
	}()...), got)
	var e Queue[int]
	e.PushFront(-100, 7) // into an empty ring
	v, ok := e.Pop()
	require.True(t, ok)
	require.Equal(t, 7, v)
}
