package localtasks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The result store's retention rules, driven as store_test.go drives it:
// failures in an LRU of their own (Config.MaxFailedResults), and runs that
// keep no result (Options.DiscardResult).

// newRetentionState returns a state with no workers, keeping maxResults
// successful results and maxFailed others.
func newRetentionState(t *testing.T, maxResults, maxFailed int) *state {
	t.Helper()
	cfg := Config{MaxResults: maxResults, MaxFailedResults: maxFailed}.withDefaults()
	require.NoError(t, cfg.validate("threadpool"))
	return newState(settings{kind: "threadpool", cfg: cfg}, modePool, poolCapabilities)
}

// end publishes rec's final status st; stored says the caller stored it
// already, as a worker's hot path does.
func end(s *state, rec *record, st Status, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalize(rec, st, s.clock.Now(), stored)
}

// inFailedLRU reports whether rec is in s's LRU of runs that did not
// succeed.
func inFailedLRU(s *state, rec *record) bool {
	s.results.mu.Lock()
	defer s.results.mu.Unlock()
	v, ok := s.results.failed.Peek(rec.slot)
	return ok && v == rec
}

// held returns the counts of finished results s holds (newRunning does
// not count the runs it starts).
func held(s *state) StatusCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.view.counts()
	return StatusCounts{Successful: c.Successful, Failed: c.Failed, Cancelled: c.Cancelled}
}

func TestStoreFailuresKeptApart(t *testing.T) {
	t.Parallel()

	t.Run("a burst of successes beyond MaxResults evicts no failure", func(t *testing.T) {
		t.Parallel()
		s := newRetentionState(t, 2, 2)
		failed := newRunning(s)
		end(s, failed, StatusFailed, false)
		cancelled := newRunning(s)
		end(s, cancelled, StatusCancelled, false)
		var last *record
		for i := range 10 {
			last = newRunning(s)
			if i%2 == 0 { // the hot path
				s.results.store(last, false)
			}
			end(s, last, StatusSuccessful, i%2 == 0)
		}
		for _, rec := range []*record{failed, cancelled} {
			require.Same(t, rec, s.index.get(rec.id), "%v survives the successes", rec.status)
			require.True(t, inFailedLRU(s, rec))
			require.False(t, inLRU(s, rec))
		}
		require.True(t, inLRU(s, last))
		require.Equal(t, StatusCounts{Successful: 2, Failed: 1, Cancelled: 1}, held(s))
	})

	t.Run("MaxFailedResults evicts the least recently used failure", func(t *testing.T) {
		t.Parallel()
		s := newRetentionState(t, 2, 2)
		ok := finishedElsewhere(s)
		var fs []*record
		for i := range 3 {
			rec := newRunning(s)
			s.results.store(rec, true) // an attempt's error: the hot path's guess is right
			end(s, rec, StatusFailed, true)
			fs = append(fs, rec)
			if i == 1 {
				s.results.touch(fs[0]) // read: fs[1] is now the least recently used
			}
		}
		require.Same(t, fs[0], s.index.get(fs[0].id))
		require.Nil(t, s.index.get(fs[1].id), "the least recently used failure is evicted")
		require.Same(t, fs[2], s.index.get(fs[2].id))
		require.Same(t, ok, s.index.get(ok.id), "a failure evicts no success")
		require.Equal(t, StatusCounts{Successful: 1, Failed: 2}, held(s))
	})

	t.Run("a run cancelled while it ran, stored as a success, moves to the failures", func(t *testing.T) {
		t.Parallel()
		s := newRetentionState(t, 1, 1)
		rec := newRunning(s)
		s.results.store(rec, false) // its attempt returned no error
		end(s, rec, StatusCancelled, true)
		require.True(t, inFailedLRU(s, rec))
		require.False(t, inLRU(s, rec))
		finishedElsewhere(s)
		finishedElsewhere(s)
		require.Same(t, rec, s.index.get(rec.id), "successes do not evict it")
		require.Equal(t, StatusCounts{Successful: 1, Cancelled: 1}, held(s))
	})

	t.Run("a run Close ended before its worker stored it stays where Close put it", func(t *testing.T) {
		t.Parallel()
		s := newRetentionState(t, 1, 1)
		rec := newRunning(s)
		end(s, rec, StatusCancelled, false) // Close abandons it
		s.results.store(rec, false)         // then its attempt returns
		require.True(t, inFailedLRU(s, rec))
		require.False(t, inLRU(s, rec), "the late store does not put it in the LRU of successes too")

		other := newRunning(s)
		s.results.store(other, false) // its attempt returns
		end(s, other, StatusCancelled, false)
		require.True(t, inFailedLRU(s, other), "a run Close ended after its worker stored it moves to the failures")
		require.False(t, inLRU(s, other))
		require.Nil(t, s.index.get(rec.id), "and evicts the older failure")
		require.Equal(t, StatusCounts{Cancelled: 1}, held(s))
	})

	t.Run("negative MaxFailedResults is an error; 0 is MaxResults", func(t *testing.T) {
		t.Parallel()
		err := Config{MaxFailedResults: -1}.withDefaults().validate("threadpool")
		require.ErrorIs(t, err, ErrConfig)
		require.ErrorContains(t, err, "MaxFailedResults -1 is negative: use 0")
		require.Equal(t, 7, Config{MaxResults: 7}.withDefaults().MaxFailedResults)
		require.Equal(t, MaxResultsDefault, Config{}.withDefaults().MaxFailedResults)
		a := settings{kind: "threadpool", cfg: Config{MaxFailedResults: 3}.withDefaults()}
		b := settings{kind: "threadpool", cfg: Config{}.withDefaults()}
		require.Equal(t, "it has MaxFailedResults 3, this one asks for 1000", a.differs(b))
	})
}

func TestStoreDiscardResult(t *testing.T) {
	t.Parallel()
	s := newRetentionState(t, 1, 1)
	kept := finishedElsewhere(s)
	keptFailure := newRunning(s)
	end(s, keptFailure, StatusFailed, false)
	for _, st := range []Status{StatusSuccessful, StatusFailed, StatusCancelled} {
		rec := s.newRecord(internalStored.Definition(), 0, nil, &Options{Queue: QueueDefault, DiscardResult: true}, s.clock.Now())
		s.index.put(rec)
		s.mu.Lock()
		rec.status = StatusRunning
		s.active++
		s.mu.Unlock()
		res, err := s.getResult(t.Context(), rec.id)
		require.NoError(t, err, "a run that keeps no result is there until it finishes")
		require.Equal(t, StatusRunning, res.Status)

		end(s, rec, st, false)
		require.Equal(t, st, rec.status)
		require.Nil(t, s.index.get(rec.id), "%v: it leaves the index as it finishes", st)
		require.False(t, inLRU(s, rec))
		require.False(t, inFailedLRU(s, rec))
		_, err = s.getResult(t.Context(), rec.id)
		require.ErrorIs(t, err, ErrResultNotFound)
		require.ErrorContains(t, err, "WithDiscardResult")
	}
	require.Same(t, kept, s.index.get(kept.id), "a run that keeps no result evicts no other")
	require.Same(t, keptFailure, s.index.get(keptFailure.id))
	require.Equal(t, StatusCounts{Successful: 1, Failed: 1}, held(s))
}
