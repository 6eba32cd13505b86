package localtasks

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The result store's race between publishing a run's final status and
// evicting it from the LRU, settled by record.stored (see store.go). These
// tests drive the store (state.index and state.results, as newState builds
// them with newResults) and the publisher (state.finalize) directly, with no
// workers: a worker's hot path is results.store outside state.mu, then
// finalize with stored set; the rare paths are finalize alone.

// newStoreState returns a state with a result store of maxResults and no
// workers.
func newStoreState(t *testing.T, maxResults int) *state {
	t.Helper()
	cfg := Config{MaxResults: maxResults}.withDefaults()
	require.NoError(t, cfg.validate("threadpool"))
	return newState(settings{kind: "threadpool", cfg: cfg}, modePool, poolCapabilities)
}

// internalStored is the task of the store tests' runs, which never run.
var internalStored = Define("internal.stored", func(ctx context.Context, n int) (int, error) { return n, nil })

// newRunning makes a RUNNING run and puts it in s's index, as Enqueue and
// start would have.
func newRunning(s *state) *record {
	rec := s.newRecord(internalStored.Definition(), 0, nil, &Options{Queue: QueueDefault}, s.clock.Now())
	s.index.put(rec)
	s.mu.Lock()
	rec.status = StatusRunning
	s.active++
	s.mu.Unlock()
	return rec
}

// publish publishes rec's final status, SUCCESSFUL; stored says the caller
// put it in the LRU already, as a worker's hot path does.
func publish(s *state, rec *record, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalize(rec, StatusSuccessful, s.clock.Now(), stored)
}

// finishedElsewhere publishes a new run by the rare path (finalize stores
// it), so that the LRU may evict another.
func finishedElsewhere(s *state) *record {
	rec := newRunning(s)
	publish(s, rec, false)
	return rec
}

// inLRU reports whether rec is in s's LRU of finished runs.
func inLRU(s *state, rec *record) bool {
	s.results.mu.Lock()
	defer s.results.mu.Unlock()
	v, ok := s.results.lru.Peek(rec.slot)
	return ok && v == rec
}

func TestStoreStoredStates(t *testing.T) {
	t.Parallel()

	t.Run("evicted before it is published: it leaves the index when published", func(t *testing.T) {
		t.Parallel()
		s := newStoreState(t, 1)
		rec := newRunning(s)
		s.results.store(rec, false) // the hot path stores it before it takes state.mu
		require.Equal(t, int32(storedNot), rec.stored.Load())

		other := finishedElsewhere(s) // evicts rec: the LRU holds one
		require.False(t, inLRU(s, rec), "rec was evicted")
		require.True(t, inLRU(s, other))
		require.Equal(t, int32(storedEvicted), rec.stored.Load(), "the eviction found it unpublished")
		require.Same(t, rec, s.index.get(rec.id), "a run that still looks unfinished stays in the index")
		res, err := s.getResult(t.Context(), rec.id)
		require.NoError(t, err)
		require.Equal(t, StatusRunning, res.Status)

		publish(s, rec, true)
		require.Equal(t, StatusSuccessful, rec.status)
		require.Equal(t, int32(storedEvicted), rec.stored.Load())
		require.Nil(t, s.index.get(rec.id), "publishing an evicted run drops it from the index")
		_, err = s.getResult(t.Context(), rec.id)
		require.ErrorIs(t, err, ErrResultNotFound)
		require.Same(t, other, s.index.get(other.id), "the run that evicted it stays")
	})

	t.Run("evicted after it is published: it leaves the index at eviction", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name string
			hot  bool
		}{
			{"stored before publishing (hot path)", true},
			{"stored by publishing (rare paths)", false},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := newStoreState(t, 1)
				rec := newRunning(s)
				if c.hot {
					s.results.store(rec, false)
				}
				publish(s, rec, c.hot)
				require.Equal(t, int32(storedPublished), rec.stored.Load())
				require.Same(t, rec, s.index.get(rec.id), "a published run in the LRU is in the index")
				require.True(t, inLRU(s, rec))

				other := finishedElsewhere(s) // evicts rec
				require.False(t, inLRU(s, rec))
				require.Equal(t, int32(storedPublished), rec.stored.Load(), "eviction leaves stored alone")
				require.Nil(t, s.index.get(rec.id), "the eviction of a published run drops it from the index")
				require.Same(t, other, s.index.get(other.id))
			})
		}
	})

	t.Run("published and not evicted: it stays in the index", func(t *testing.T) {
		t.Parallel()
		s := newStoreState(t, 2)
		hot := newRunning(s)
		s.results.store(hot, false)
		publish(s, hot, true)
		rare := finishedElsewhere(s)
		for _, rec := range []*record{hot, rare} {
			require.Equal(t, int32(storedPublished), rec.stored.Load())
			require.True(t, inLRU(s, rec))
			require.Same(t, rec, s.index.get(rec.id))
			res, err := s.getResult(t.Context(), rec.id)
			require.NoError(t, err)
			require.Equal(t, StatusSuccessful, res.Status)
		}
	})
}

// Many publishers, by both paths, with a small LRU evicting all the while:
// afterwards the index holds exactly the runs still in the LRU and the
// unfinished ones, whatever order the races went.
func TestStorePublishEvictConcurrent(t *testing.T) {
	t.Parallel()
	const (
		publishers = 16
		runs       = 300 // each
		maxResults = 8
	)
	s := newStoreState(t, maxResults)
	var (
		mu         sync.Mutex
		unfinished = map[string]bool{}
		finished   int
		raced      int // runs evicted between their store and their publish
		wg         sync.WaitGroup
	)
	for g := range publishers {
		wg.Go(func() {
			var left []string
			var done, lost int
			for i := range runs {
				rec := newRunning(s)
				switch (g + i) % 5 {
				case 0: // left unfinished: never in the LRU, never evicted
					left = append(left, rec.id)
					continue
				case 1, 2, 3: // the hot path
					s.results.store(rec, false)
					runtime.Gosched() // let other publishers evict it meanwhile
					publish(s, rec, true)
					if rec.stored.Load() == storedEvicted {
						lost++
					}
				default: // the rare path
					publish(s, rec, false)
				}
				done++
				s.results.touch(rec) // readers refresh recency, evicted or not
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range left {
				unfinished[k] = true
			}
			finished += done
			raced += lost
		})
	}
	wg.Wait()

	s.results.mu.Lock()
	kept := s.results.lru.Values()
	s.results.mu.Unlock()
	require.Len(t, kept, maxResults, "the LRU is full")
	want := map[string]bool{}
	for k := range unfinished {
		want[k] = true
	}
	for _, rec := range kept {
		require.Equal(t, StatusSuccessful, rec.status)
		require.Equal(t, int32(storedPublished), rec.stored.Load(), "a run in the LRU is published")
		want[rec.id] = true
	}
	got := map[string]bool{}
	for _, rec := range s.index.all() {
		got[rec.id] = true
	}
	require.Equal(t, want, got, "the index holds the runs in the LRU and the unfinished ones, no more and no fewer")
	require.Positive(t, raced, "no run was evicted between its store and its publish: the test did not exercise the race")
	require.Equal(t, publishers*runs/5, len(unfinished))
	require.Equal(t, publishers*runs-len(unfinished), finished)
	s.mu.Lock()
	require.Equal(t, len(unfinished), s.active, "every published run was counted out")
	s.mu.Unlock()
	t.Logf("%d of %d finished runs were evicted between their store and their publish", raced, finished)
}

// A reader that touches a run evicted meanwhile does not refresh the run
// that took its slot: the LRU is keyed by slot, and slots are taken again.
func TestStoreTouchOfAnEvictedRun(t *testing.T) {
	t.Parallel()
	s := newStoreState(t, 2)
	old := finishedElsewhere(s)
	a := finishedElsewhere(s)
	b := finishedElsewhere(s) // evicts old: its slot is free
	require.False(t, inLRU(s, old))
	require.Nil(t, s.index.get(old.id))

	// A run that takes old's slot, as the next ID of its shard would.
	shard, n := slotOf(old.slot)
	require.Equal(t, n, s.index.shards[shard].take(), "a freed slot is taken again first")
	other := []byte(old.id)
	other[0] = map[bool]byte{true: '1', false: '0'}[other[0] == '0'] // another ID with the same slot
	reuse := &record{def: old.def, slot: old.slot, id: string(other), enqueuedAt: old.enqueuedAt}
	s.index.put(reuse)
	require.Same(t, reuse, s.index.get(reuse.id))
	require.Nil(t, s.index.get(old.id), "a slot answers for its own run's ID only")
	s.mu.Lock()
	reuse.status = StatusRunning
	s.active++
	s.mu.Unlock()
	publish(s, reuse, false) // evicts a, the least recently used
	require.False(t, inLRU(s, a))
	require.True(t, inLRU(s, b))

	s.results.touch(b)   // b is the most recent: reuse is the oldest
	s.results.touch(old) // a reader holding the evicted run
	s.results.mu.Lock()
	_, oldest, _ := s.results.lru.GetOldest()
	s.results.mu.Unlock()
	require.Same(t, reuse, oldest, "the touch of the evicted run refreshed nothing, not the run in its slot")
}

// Every form of a UUID that uuid.Parse reads finds its run, and each miss
// says whether the ID is malformed or unknown.
func TestStoreLookupForms(t *testing.T) {
	t.Parallel()
	s := newStoreState(t, 4)
	rec := finishedElsewhere(s)
	plain := strings.ReplaceAll(rec.id, "-", "")
	for _, id := range []string{rec.id, strings.ToUpper(rec.id), "{" + rec.id + "}", "urn:uuid:" + rec.id, plain} {
		got, err := s.lookup(id)
		require.NoError(t, err, id)
		require.Same(t, rec, got, id)
	}

	other := []byte(rec.id)
	other[0] = map[bool]byte{true: '1', false: '0'}[other[0] == '0'] // the same slot, another ID
	_, err := s.lookup(string(other))
	require.ErrorIs(t, err, ErrResultNotFound)
	require.ErrorContains(t, err, "the ID is unknown")

	bad := "zz" + rec.id[2:] // 36 characters, the slot's digits intact
	_, err = s.lookup(bad)
	require.ErrorIs(t, err, ErrResultNotFound)
	require.ErrorContains(t, err, "is not a task ID")
}
