package localtaskstest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/localtasks/localtasks"
)

// MemoryJournal is a localtasks.Journal in memory, for tests: a backend
// built on it keeps its runs there, and Crash returns what a program that
// died at that moment would find on disk, to build the backend again on
// and check what it resumes. It is safe for concurrent use.
type MemoryJournal struct {
	mu      sync.Mutex
	backend string
	format  int
	opened  bool
	runs    map[string]localtasks.JournalRun
	strikes map[string]localtasks.JournalStrike
	commits int
	fail    error
}

var _ localtasks.Journal = (*MemoryJournal)(nil)

// NewMemoryJournal returns an empty journal.
func NewMemoryJournal() *MemoryJournal {
	return &MemoryJournal{runs: make(map[string]localtasks.JournalRun), strikes: make(map[string]localtasks.JournalStrike)}
}

// Open claims the journal for backend; see localtasks.Journal.
func (m *MemoryJournal) Open(ctx context.Context, backend string, format int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.opened {
		m.backend, m.format, m.opened = backend, format, true
		return format, nil
	}
	if m.backend != backend {
		return 0, fmt.Errorf("this journal holds the runs of backend %q, not %q: give each backend its own journal", m.backend, backend)
	}
	return m.format, nil
}

// Load calls run and strike with what the journal holds, runs in the
// order of their IDs; see localtasks.Journal.
func (m *MemoryJournal) Load(ctx context.Context, run func(*localtasks.JournalRun) error, strike func(*localtasks.JournalStrike) error) error {
	runs, strikes := m.contents()
	for i := range runs {
		if err := run(&runs[i]); err != nil {
			return err
		}
	}
	for i := range strikes {
		if err := strike(&strikes[i]); err != nil {
			return err
		}
	}
	return nil
}

// Commit applies the batch, or fails with the error FailCommits set; see
// localtasks.Journal.
func (m *MemoryJournal) Commit(ctx context.Context, b *localtasks.JournalBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.commits++
	for _, r := range b.Runs {
		r.Args, r.Value, r.Detail = bytes.Clone(r.Args), bytes.Clone(r.Value), bytes.Clone(r.Detail)
		m.runs[r.ID] = r
	}
	for _, id := range b.Deleted {
		delete(m.runs, id)
	}
	for _, s := range b.Strikes {
		if s.Lifted {
			delete(m.strikes, s.Key)
		} else {
			s.Data = bytes.Clone(s.Data)
			m.strikes[s.Key] = s
		}
	}
	return nil
}

// FailCommits makes every Commit from now on fail with err, and commit
// nothing; nil makes them succeed again.
func (m *MemoryJournal) FailCommits(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Crash returns a new journal holding what m holds now, as a program that
// died at this moment would leave it: what later commits to m write does
// not reach it.
func (m *MemoryJournal) Crash() *MemoryJournal {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMemoryJournal()
	c.backend, c.format, c.opened = m.backend, m.format, m.opened
	for id, r := range m.runs {
		c.runs[id] = r // Commit cloned its bytes, which nothing changes
	}
	for k, s := range m.strikes {
		c.strikes[k] = s
	}
	return c
}

// Runs returns the runs the journal holds, in the order they were
// enqueued.
func (m *MemoryJournal) Runs() []localtasks.JournalRun {
	runs, _ := m.contents()
	slices.SortStableFunc(runs, func(a, b localtasks.JournalRun) int { return a.EnqueuedAt.Compare(b.EnqueuedAt) })
	return runs
}

// Run returns the run with that ID, if the journal holds it.
func (m *MemoryJournal) Run(id string) (localtasks.JournalRun, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	return r, ok
}

// Commits counts the commits that succeeded.
func (m *MemoryJournal) Commits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

func (m *MemoryJournal) contents() ([]localtasks.JournalRun, []localtasks.JournalStrike) {
	m.mu.Lock()
	defer m.mu.Unlock()
	runs := make([]localtasks.JournalRun, 0, len(m.runs))
	for _, r := range m.runs {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b localtasks.JournalRun) int { return cmp.Compare(a.ID, b.ID) })
	strikes := make([]localtasks.JournalStrike, 0, len(m.strikes))
	for _, s := range m.strikes {
		strikes = append(strikes, s)
	}
	slices.SortFunc(strikes, func(a, b localtasks.JournalStrike) int { return cmp.Compare(a.Key, b.Key) })
	return runs, strikes
}
