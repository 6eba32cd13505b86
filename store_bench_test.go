package localtasks

import (
	"testing"

	"github.com/localtasks/localtasks/internal/uid"
)

// BenchmarkResultStorePut measures storing a finished run in a full store
// of 1000: an LRU insert, an eviction, and the evicted run's index delete.
func BenchmarkResultStorePut(b *testing.B) {
	var ix index
	r := newResults(1000, &ix)
	recs := make([]*record, 4096)
	for i := range recs {
		recs[i] = &record{}
		recs[i].key, recs[i].id = uid.New()
		recs[i].stored.Store(storedPublished)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := recs[i%len(recs)]
		ix.put(rec)
		r.add(rec)
	}
}
