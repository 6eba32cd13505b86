package localtasks_test

// Every backend of this module runs localtaskstest's conformance suite
// here, one test a backend. The River adapter, a module of its own, runs
// it in adapters/river/conformance_test.go.

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

func TestConformanceThreadPool(t *testing.T) {
	t.Parallel()
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg, MaxWorkers: 4})
		require.NoError(t, err)
		return b
	})
}

func TestConformanceImmediate(t *testing.T) {
	t.Parallel()
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewImmediate(cfg)
		require.NoError(t, err)
		return b
	})
}

func TestConformanceRecording(t *testing.T) {
	t.Parallel()
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewRecording(cfg)
		require.NoError(t, err)
		return b
	})
}

func TestConformanceProcessPool(t *testing.T) {
	t.Parallel()
	if !processPoolSupported {
		t.Skip("the process pool runs on Unix only: NewProcessPool fails with errors.ErrUnsupported here")
	}
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: cfg, MaxWorkers: 2})
		require.NoError(t, err)
		return b
	})
}

// journalFor returns one MemoryJournal per test and backend Name, so that
// backends of one Name share theirs, as they must. A backend with a journal
// needs a Name: an unnamed one gets a name of its own.
func journalFor() func(t *testing.T, cfg localtasks.Config) localtasks.Config {
	var mu sync.Mutex
	js := make(map[string]*localtaskstest.MemoryJournal)
	private := 0
	return func(t *testing.T, cfg localtasks.Config) localtasks.Config {
		mu.Lock()
		defer mu.Unlock()
		if cfg.Name == "" {
			private++
			cfg.Name = fmt.Sprintf("%s private %d", t.Name(), private)
		}
		k := t.Name() + "\x00" + cfg.Name
		if js[k] == nil {
			js[k] = localtaskstest.NewMemoryJournal()
		}
		cfg.Journal = js[k]
		return cfg
	}
}

func TestConformanceThreadPoolJournal(t *testing.T) {
	t.Parallel()
	withJournal := journalFor()
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: withJournal(t, cfg), MaxWorkers: 4})
		require.NoError(t, err)
		return b
	})
}

func TestConformanceProcessPoolJournal(t *testing.T) {
	t.Parallel()
	if !processPoolSupported {
		t.Skip("the process pool runs on Unix only: NewProcessPool fails with errors.ErrUnsupported here")
	}
	withJournal := journalFor()
	localtaskstest.RunConformance(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: withJournal(t, cfg), MaxWorkers: 2})
		require.NoError(t, err)
		return b
	})
}
