package localtasks

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/localtasks/localtasks/internal/uid"
)

// The result store has two parts, each with its own locks, so that Enqueue,
// the workers and the readers rarely wait for one another:
//
//   - index maps every run the store holds, finished or not, by ID, with no
//     hashing: an ID carries its run's slot in the index, a small number,
//     in its last four bytes. Lookups take no lock; taking and freeing a
//     slot takes one shard's.
//   - results is the golang-lru store of finished runs, keyed by slot, with
//     its own lock: one LRU for the successful runs and one for the others
//     (Config.MaxFailedResults). Runs enter it only once finished, so an
//     unfinished run is never evicted; evicting a finished one drops it
//     from the index and frees its slot. A run of a task that keeps no
//     result (WithDiscardResult) never enters it: it leaves the index as it
//     finishes.
//
// A run is stored before it is seen finished, so that reads and evictions
// happen in the order callers observe. On the hot path a worker stores a run
// it knows is finished before it takes state.mu to publish the final status
// (record.stored settles a race with eviction in between); rarer paths store
// under state.mu. Lock order: state.mu, then results.mu, then a shard;
// Enqueue's slot and the readers' lookups take a shard at most.

// The values of record.stored.
const (
	storedNot       = iota // not yet published as finished
	storedPublished        // published as finished
	storedEvicted          // evicted before it was published; publishing drops it
)

// An ID is a random version 4 UUID whose last four bytes are its run's
// slot: 90 random bits are left, and every lookup compares the whole ID, so
// a slot used again never answers for the run it held before. A slot is a
// number within a shard, shifted left by shardBits, or'ed with the shard.
const (
	shardBits   = 4
	indexShards = 1 << shardBits
	chunkBits   = 10 // slots a chunk: 1024, 8 KiB
)

// index maps IDs to their records; see above.
type index struct {
	shards [indexShards]indexShard
}

type indexShard struct {
	mu     sync.Mutex               // guards free, next, and growing chunks
	chunks atomic.Pointer[[]*chunk] // the slots, a chunk at a time; chunks never move
	free   []uint32                 // numbers of slots freed, to take again
	next   uint32                   // numbers below it were taken once
	_      [24]byte                 // one shard a 64-byte cache line
}

type chunk [1 << chunkBits]atomic.Pointer[record]

// slotOf returns the shard and number of a slot.
func slotOf(slot uint32) (shard int, n uint32) {
	return int(slot & (indexShards - 1)), slot >> shardBits
}

// idSlot returns the slot an ID in canonical form carries, from its last 8
// hex digits (either case), or false if it is not one.
func idSlot(id string) (uint32, bool) {
	if len(id) != 36 {
		return 0, false
	}
	var slot uint32
	for i := 28; i < 36; i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		slot = slot<<4 | uint32(c)
	}
	return slot, true
}

// cell returns the cell of slot n of sh, or nil if it was never taken.
func (sh *indexShard) cell(n uint32) *atomic.Pointer[record] {
	cs := sh.chunks.Load()
	if cs == nil || int(n>>chunkBits) >= len(*cs) {
		return nil
	}
	return &(*cs)[n>>chunkBits][n&(1<<chunkBits-1)]
}

// newID takes a free slot and returns it with a new ID that carries it.
func (ix *index) newID() (uint32, string) {
	key := uid.Random()
	shard := int(key[0]) & (indexShards - 1) // random: spreads the enqueuers over the shards
	slot := ix.shards[shard].take()<<shardBits | uint32(shard)
	binary.BigEndian.PutUint32(key[12:], slot)
	return slot, uid.Format(key)
}

// take returns the number of a free slot.
func (sh *indexShard) take() uint32 {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if k := len(sh.free); k > 0 {
		n := sh.free[k-1]
		sh.free = sh.free[:k-1]
		return n
	}
	n := sh.next
	sh.next++
	if cs := sh.chunks.Load(); cs == nil || int(n>>chunkBits) >= len(*cs) {
		var grown []*chunk
		if cs != nil {
			grown = append(grown, *cs...)
		}
		grown = append(grown, new(chunk))
		sh.chunks.Store(&grown)
	}
	return n
}

// get returns the run with that ID, or nil. The whole ID is compared, so
// a slot taken again never answers for the run it held before. IDs in
// another form than the canonical one (upper case, braces, urn:uuid:) are
// found too, as uuid.Parse reads them.
func (ix *index) get(id string) *record {
	slot, ok := idSlot(id)
	if !ok {
		key, err := uuid.Parse(id)
		if err != nil {
			return nil
		}
		id = uid.Format(key)
		slot = binary.BigEndian.Uint32(key[12:])
	}
	shard, n := slotOf(slot)
	c := ix.shards[shard].cell(n)
	if c == nil {
		return nil
	}
	if rec := c.Load(); rec != nil && (rec.id == id || strings.EqualFold(rec.id, id)) {
		return rec
	}
	return nil
}

// at returns the run in slot, or nil.
func (ix *index) at(slot uint32) *record {
	shard, n := slotOf(slot)
	if c := ix.shards[shard].cell(n); c != nil {
		return c.Load()
	}
	return nil
}

// put makes rec, whose ID newID made, findable.
func (ix *index) put(rec *record) {
	shard, n := slotOf(rec.slot)
	ix.shards[shard].cell(n).Store(rec)
}

// del drops rec, and frees its slot.
func (ix *index) del(rec *record) {
	shard, n := slotOf(rec.slot)
	sh := &ix.shards[shard]
	if c := sh.cell(n); c != nil && c.CompareAndSwap(rec, nil) {
		sh.mu.Lock()
		sh.free = append(sh.free, n)
		sh.mu.Unlock()
	}
}

// all returns every record in the index.
func (ix *index) all() []*record {
	var recs []*record
	for i := range ix.shards {
		cs := ix.shards[i].chunks.Load()
		if cs == nil {
			continue
		}
		for _, c := range *cs {
			for j := range c {
				if rec := c[j].Load(); rec != nil {
					recs = append(recs, rec)
				}
			}
		}
	}
	return recs
}

// results is the store of finished runs: two LRUs, one of at most
// MaxResults successful runs and one of at most MaxFailedResults runs that
// did not succeed (FAILED and CANCELLED), so that a burst of successes
// cannot evict the failures an operator needs to see. Both share one lock,
// and a record says which one holds it (record.lru).
type results struct {
	mu     sync.Mutex
	lru    *simplelru.LRU[uint32, *record] // the successful runs, by slot
	failed *simplelru.LRU[uint32, *record] // the runs that did not succeed, by slot
	ix     *index
	moving *record // being moved from one LRU to the other: its removal drops nothing
}

// The values of record.lru: which of the result store's LRUs holds it.
const (
	lruNone      = iota // neither
	lruSucceeded        // results.lru
	lruFailed           // results.failed
)

// newResults makes a store of size successful results and failedSize
// others, which calls dropped (under its lock) with each published run it
// drops.
func newResults(size, failedSize int, ix *index, dropped func(*record)) *results {
	r := &results{ix: ix}
	onEvict := func(_ uint32, rec *record) {
		if rec == r.moving {
			return
		}
		rec.lru = lruNone
		if rec.stored.CompareAndSwap(storedNot, storedEvicted) {
			return // its worker has not published it yet, and will drop it then
		}
		dropped(rec)
		ix.del(rec)
	}
	// Sizes > 0: NewLRU cannot fail.
	r.lru, _ = simplelru.NewLRU(size, onEvict)
	r.failed, _ = simplelru.NewLRU(failedSize, onEvict)
	return r
}

// store stores rec, a run its worker knows is finished but has not yet
// published, in the LRU its attempt's error points to (failed: that of the
// runs that did not succeed): the hot path, before the worker takes
// state.mu. It stores nothing if rec was published meanwhile (Close gave up
// on it and cancelled it): the publisher stored it where it belongs.
func (r *results) store(rec *record, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.stored.Load() != storedNot {
		return
	}
	r.put(rec, failed)
}

// add stores a run just published as finished, in the LRU of the runs that
// did not succeed if failed, moving it there if its worker stored it in
// the other.
func (r *results) add(rec *record, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.put(rec, failed)
}

// move moves rec, which its worker stored and which was then published,
// to the LRU of the runs that did not succeed if failed, unless it was
// evicted meanwhile: the worker guesses the LRU from the attempt's error,
// and a run cancelled while it ran may return none.
func (r *results) move(rec *record, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.lru != lruNone {
		r.put(rec, failed)
	}
}

// put stores rec in one LRU, evicting the least recently used of it beyond
// its size, and takes it out of the other one. Must hold r.mu.
func (r *results) put(rec *record, failed bool) {
	to, want := r.lru, uint8(lruSucceeded)
	if failed {
		to, want = r.failed, lruFailed
	}
	if rec.lru != lruNone && rec.lru != want {
		r.moving = rec
		r.of(rec).Remove(rec.slot)
		r.moving = nil
	}
	to.Add(rec.slot, rec)
	rec.lru = want
}

// of returns the LRU that holds rec, or nil. Must hold r.mu.
func (r *results) of(rec *record) *simplelru.LRU[uint32, *record] {
	switch rec.lru {
	case lruSucceeded:
		return r.lru
	case lruFailed:
		return r.failed
	}
	return nil
}

// touch marks rec as just used, if it is in the store. A finished run is
// in an LRU exactly while the index holds it (an eviction drops it from the
// index under r.mu), and its slot is taken again only after that: checking
// the index first keeps a reader of a run evicted meanwhile from refreshing
// the run that took its slot.
func (r *results) touch(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.of(rec); l != nil && r.ix.at(rec.slot) == rec {
		l.Get(rec.slot)
	}
}

// remove drops rec from the store, as an eviction would, if it is there.
func (r *results) remove(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.of(rec); l != nil {
		l.Remove(rec.slot)
	}
}

// maxRestoredSlot bounds the slot numbers, within a shard, that restore
// takes: 2^24 a shard is 268 million runs held at once.
const maxRestoredSlot = 1 << 24

// restore fills the index, still empty, with runs taken back from a
// journal, each in the slot its ID carries; the slots between them are
// free. It fails if two IDs carry one slot.
func (ix *index) restore(recs []*record) error {
	taken := make([]map[uint32]bool, indexShards)
	for _, rec := range recs {
		shard, n := slotOf(rec.slot)
		if n >= maxRestoredSlot {
			return fmt.Errorf("the run %s carries the slot %d, beyond any this package hands out: the journal was written by another program", rec.id, rec.slot)
		}
		if taken[shard] == nil {
			taken[shard] = make(map[uint32]bool)
		}
		if taken[shard][n] {
			return fmt.Errorf("two runs carry the slot %d, one of them %s: the journal was written by another program", rec.slot, rec.id)
		}
		taken[shard][n] = true
		sh := &ix.shards[shard]
		for sh.next <= n {
			sh.take()
		}
		ix.put(rec)
	}
	for i := range ix.shards {
		sh := &ix.shards[i]
		sh.free = sh.free[:0]
		for n := sh.next; n > 0; n-- { // in reverse, so that take hands out the lowest first
			if !taken[i][n-1] {
				sh.free = append(sh.free, n-1)
			}
		}
	}
	return nil
}
