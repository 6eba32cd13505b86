// Package pqueue is a priority queue over the fixed range of task priorities
// (-100 to 100), first in first out within one priority.
//
// It keeps one ring buffer per priority and a bitmap of the non-empty ones, so
// Push and Pop cost O(1) whatever the length: no heap, no comparisons. It is not
// safe for concurrent use; the caller holds its own lock.
package pqueue

import "math/bits"

// Priority bounds. Higher runs first.
const (
	Min    = -100
	Max    = 100
	levels = Max - Min + 1
)

// Queue is a priority queue of T. The zero value is an empty queue.
type Queue[T any] struct {
	rings [levels]ring[T]
	used  [(levels + 63) / 64]uint64 // bit i set: rings[i] is not empty
	n     int
}

// Len reports how many items the queue holds.
func (q *Queue[T]) Len() int { return q.n }

// Push adds v at the back of its priority's line. It panics if priority is
// outside [Min, Max]; callers validate priorities before they get here.
func (q *Queue[T]) Push(priority int, v T) {
	i := level(priority)
	q.rings[i].push(v)
	q.used[i/64] |= 1 << (i % 64)
	q.n++
}

// PushFront adds v at the front of its priority's line, to be the next of
// that priority out: for an item taken out and put back.
func (q *Queue[T]) PushFront(priority int, v T) {
	i := level(priority)
	q.rings[i].pushFront(v)
	q.used[i/64] |= 1 << (i % 64)
	q.n++
}

// level is the index of priority's ring. It panics if priority is outside
// [Min, Max]; callers validate priorities before they get here.
func level(priority int) int {
	i := priority - Min
	if i < 0 || i >= levels {
		panic("pqueue: priority out of range")
	}
	return i
}

// Pop removes and returns the oldest item of the highest priority.
func (q *Queue[T]) Pop() (v T, ok bool) {
	for w := len(q.used) - 1; w >= 0; w-- {
		if q.used[w] == 0 {
			continue
		}
		i := w*64 + 63 - bits.LeadingZeros64(q.used[w])
		r := &q.rings[i]
		v = r.pop()
		if r.n == 0 {
			q.used[w] &^= 1 << (i % 64)
		}
		q.n--
		return v, true
	}
	return v, false
}

// Drain removes every item, calling f on each in the order Pop would return them.
func (q *Queue[T]) Drain(f func(T)) {
	for {
		v, ok := q.Pop()
		if !ok {
			return
		}
		f(v)
	}
}

// ring is a growable circular buffer.
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

func (r *ring[T]) pushFront(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1 + len(r.buf)) % len(r.buf)
	r.buf[r.head] = v
	r.n++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // let the garbage collector have it
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > 1024 {
			r.buf = nil // a burst is over: give its memory back
		}
	}
	return v
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf, r.head = buf, 0
}
