package localtasks

import "testing"

// BenchmarkResultStorePut measures storing a new finished run in a full
// store of 1000: its ID (a slot of the index), the index insert, an LRU
// insert, an eviction, and the evicted run's index delete, which frees its
// slot for the next.
func BenchmarkResultStorePut(b *testing.B) {
	var ix index
	r := newResults(1000, 1000, &ix, func(*record) {})
	recs := make([]*record, 4096)
	for i := range recs {
		recs[i] = &record{}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := recs[i%len(recs)]
		rec.slot, rec.id = ix.newID()
		rec.stored.Store(storedPublished)
		ix.put(rec)
		r.add(rec, false)
	}
}
