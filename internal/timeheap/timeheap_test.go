package timeheap

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPopDueInTimeOrderTiesFIFO(t *testing.T) {
	t.Parallel()
	base := time.Unix(1000, 0)
	var h Heap[string]
	h.Push(base.Add(3*time.Second), "c")
	h.Push(base.Add(time.Second), "a1")
	h.Push(base.Add(2*time.Second), "b")
	h.Push(base.Add(time.Second), "a2")

	_, ok := h.PopDue(base)
	require.False(t, ok, "nothing is due before the first time")

	var got []string
	for {
		e, ok := h.PopDue(base.Add(2 * time.Second))
		if !ok {
			break
		}
		got = append(got, e.Value)
	}
	require.Equal(t, []string{"a1", "a2", "b"}, got)
	e, ok := h.Peek()
	require.True(t, ok)
	require.Equal(t, "c", e.Value)
}

func TestRemove(t *testing.T) {
	t.Parallel()
	base := time.Unix(0, 0)
	var h Heap[int]
	var es []*Entry[int]
	for i := range 10 {
		es = append(es, h.Push(base.Add(time.Duration(i)*time.Second), i))
	}
	require.True(t, h.Remove(es[0]))
	require.True(t, h.Remove(es[5]))
	require.False(t, h.Remove(es[5]), "second removal must report false")
	require.False(t, h.Remove(nil))
	var got []int
	for {
		e, ok := h.PopDue(base.Add(time.Hour))
		if !ok {
			break
		}
		got = append(got, e.Value)
	}
	require.Equal(t, []int{1, 2, 3, 4, 6, 7, 8, 9}, got)
	require.False(t, h.Remove(es[1]), "a popped entry is no longer in the heap")
}
