package localtasks

import (
	"context"
	"testing"
)

// benchSetStatusTask is BenchmarkSetStatus's.
var benchSetStatusTask = Define("bench.setStatus", func(ctx context.Context, n int) (int, error) { return n, nil })

// BenchmarkSetStatus moves one run from READY to RUNNING and back: the
// counts every status transition keeps, by status, queue and chunk of the
// index, with no journal, watcher or enqueue waiting for room.
func BenchmarkSetStatus(b *testing.B) {
	rb, err := NewRecording(Config{Queues: []string{"default", "bulk"}})
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Close(context.Background())
	h, err := benchSetStatusTask.Using(WithQueue("bulk")).Enqueue(context.Background(), rb, 1)
	if err != nil {
		b.Fatal(err)
	}
	s := rb.s
	rec := s.index.get(h.ID())
	s.mu.Lock()
	defer s.mu.Unlock()
	for b.Loop() {
		s.setStatus(rec, StatusRunning)
		s.setStatus(rec, StatusReady)
	}
}
