package sqlitejournal_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
	"github.com/localtasks/localtasks/sqlitejournal"
)

// journalFor gives a backend a SQLite journal of its own: one file per test
// and backend Name, opened once and closed after the backends (cleanups run
// last-registered first), so that backends of one Name share it, as they
// must. The suite builds private backends (no Name), which a journal does
// not take (it is claimed by a Name): each gets a Name of its own, and so a
// state and a file of its own, as a private backend has.
func journalFor(kind string) func(t *testing.T, cfg localtasks.Config) localtasks.Config {
	var mu sync.Mutex
	js := make(map[string]*sqlitejournal.Journal)
	private := 0
	return func(t *testing.T, cfg localtasks.Config) localtasks.Config {
		mu.Lock()
		defer mu.Unlock()
		if cfg.Name == "" {
			private++
			cfg.Name = fmt.Sprintf("%s %s private %d", kind, t.Name(), private)
		} else {
			cfg.Name = kind + " " + t.Name() + " " + cfg.Name
		}
		if js[cfg.Name] == nil {
			j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, j.Close()) })
			js[cfg.Name] = j
		}
		cfg.Journal = js[cfg.Name]
		return cfg
	}
}

func TestConformanceThreadPool(t *testing.T) {
	t.Parallel()
	withJournal := journalFor("threadpool")
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: withJournal(t, cfg), MaxWorkers: 4})
		require.NoError(t, err)
		return b
	})
}

func TestConformanceProcessPool(t *testing.T) {
	t.Parallel()
	withJournal := journalFor("procpool")
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: withJournal(t, cfg), MaxWorkers: 2})
		require.NoError(t, err)
		return b
	})
}
