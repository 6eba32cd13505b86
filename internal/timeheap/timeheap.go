// Package timeheap is a min-heap of values keyed by time, with removal of any
// entry, for the tasks that wait for a run-after time or a retry delay.
//
// It is not safe for concurrent use; the caller holds its own lock.
package timeheap

import (
	"container/heap"
	"time"
)

// Entry is one value in the heap. Keep it to Remove the value later.
type Entry[T any] struct {
	At    time.Time
	Value T
	seq   uint64 // ties at one instant leave in the order they came
	index int    // position in the heap, -1 once removed
}

// Heap orders entries by At, earliest first. The zero value is empty.
type Heap[T any] struct {
	h   entries[T]
	seq uint64
}

// Len reports how many entries the heap holds.
func (h *Heap[T]) Len() int { return len(h.h) }

// Push adds v, due at at, and returns its entry.
func (h *Heap[T]) Push(at time.Time, v T) *Entry[T] {
	h.seq++
	e := &Entry[T]{At: at, Value: v, seq: h.seq}
	heap.Push(&h.h, e)
	return e
}

// Peek returns the earliest entry without removing it.
func (h *Heap[T]) Peek() (*Entry[T], bool) {
	if len(h.h) == 0 {
		return nil, false
	}
	return h.h[0], true
}

// PopDue removes and returns the earliest entry if it is due at now.
func (h *Heap[T]) PopDue(now time.Time) (*Entry[T], bool) {
	if len(h.h) == 0 || h.h[0].At.After(now) {
		return nil, false
	}
	return heap.Pop(&h.h).(*Entry[T]), true
}

// Remove takes e out of the heap. It reports false if e was not in it.
func (h *Heap[T]) Remove(e *Entry[T]) bool {
	if e == nil || e.index < 0 || e.index >= len(h.h) || h.h[e.index] != e {
		return false
	}
	heap.Remove(&h.h, e.index)
	return true
}

type entries[T any] []*Entry[T]

func (s entries[T]) Len() int { return len(s) }
func (s entries[T]) Less(i, j int) bool {
	if s[i].At.Equal(s[j].At) {
		return s[i].seq < s[j].seq
	}
	return s[i].At.Before(s[j].At)
}
func (s entries[T]) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index, s[j].index = i, j
}
func (s *entries[T]) Push(x any) {
	e := x.(*Entry[T])
	e.index = len(*s)
	*s = append(*s, e)
}
func (s *entries[T]) Pop() any {
	old := *s
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*s = old[:len(old)-1]
	return e
}

// Drain removes every entry, calling f on each, earliest first.
func (h *Heap[T]) Drain(f func(*Entry[T])) {
	for len(h.h) > 0 {
		f(heap.Pop(&h.h).(*Entry[T]))
	}
}
