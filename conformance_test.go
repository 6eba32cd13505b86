package localtasks_test

import (
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
