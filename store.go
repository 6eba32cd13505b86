package localtasks

import (
	"sync"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// The result store has two parts, each with its own locks, so that Enqueue,
// the workers and the readers rarely wait for one another:
//
//   - index maps every run the store holds, finished or not, by ID. It is
//     split in shards by the ID's first byte (random), each with its own
//     lock: Enqueue inserts there without touching the state's lock.
//   - results is the golang-lru store of finished runs, with its own lock.
//     Runs enter it only once finished, so an unfinished run is never
//     evicted; evicting a finished one drops it from the index.
//
// A run is stored before it is seen finished, so that reads and evictions
// happen in the order callers observe. On the hot path a worker stores a run
// it knows is finished before it takes state.mu to publish the final status
// (record.stored settles a race with eviction in between); rarer paths store
// under state.mu. Lock order: state.mu, then results.mu, then a shard;
// Enqueue's insert and the readers' lookups take a shard alone.

// The values of record.stored.
const (
	storedNot       = iota // not yet published as finished
	storedPublished        // published as finished
	storedEvicted          // evicted before it was published; publishing drops it
)

const indexShards = 64

type index struct {
	shards [indexShards]indexShard
}

type indexShard struct {
	mu sync.Mutex
	m  map[uuid.UUID]*record
	_  [48]byte // mutex and map pointer make 16 bytes: one shard a 64-byte cache line
}

func (ix *index) shard(key uuid.UUID) *indexShard { return &ix.shards[key[0]%indexShards] }

func (ix *index) get(key uuid.UUID) *record {
	sh := ix.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[key]
}

func (ix *index) put(rec *record) {
	sh := ix.shard(rec.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[uuid.UUID]*record)
	}
	sh.m[rec.key] = rec
}

func (ix *index) del(key uuid.UUID) {
	sh := ix.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.m, key)
}

// all returns every record in the index.
func (ix *index) all() []*record {
	var recs []*record
	for i := range ix.shards {
		sh := &ix.shards[i]
		sh.mu.Lock()
		for _, rec := range sh.m {
			recs = append(recs, rec)
		}
		sh.mu.Unlock()
	}
	return recs
}

// results is the store of finished runs: an LRU of at most MaxResults.
type results struct {
	mu  sync.Mutex
	lru *simplelru.LRU[*record, struct{}]
}

func newResults(size int, ix *index) *results {
	// Size > 0: NewLRU cannot fail.
	lru, _ := simplelru.NewLRU(size, func(rec *record, _ struct{}) {
		if rec.stored.CompareAndSwap(storedNot, storedEvicted) {
			return // its worker has not published it yet, and will drop it then
		}
		ix.del(rec.key)
	})
	return &results{lru: lru}
}

// add stores a finished run, evicting the least recently used beyond the
// store's size.
func (r *results) add(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lru.Add(rec, struct{}{})
}

// touch marks rec as just used, if it is in the store.
func (r *results) touch(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lru.Get(rec)
}

func (r *results) remove(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lru.Remove(rec)
}
