package river_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

// quiet drops River's informational logs, such as one per failed attempt.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConformance(t *testing.T) {
	t.Parallel()
	localtaskstest.RunConformanceWith(t, func(t *testing.T, cfg localtasks.Config) localtasks.Backend {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := ltriver.New(ctx, pool, ltriver.Config{
			Name:              cfg.Name,
			Queues:            cfg.Queues,
			Workers:           4,
			Schema:            newSchema(t),
			Clock:             cfg.Test.Clock,
			Middleware:        cfg.Middleware,
			Automatic:         cfg.Automatic,
			Logger:            quiet,
			FetchPollInterval: 20 * time.Millisecond,
		})
		require.NoError(t, err)
		return b
	}, localtaskstest.Traits{
		CheckID: func(id string) error {
			if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
				return fmt.Errorf("not a River job ID")
			}
			return nil
		},
		KeepsResults: true,
		DurableClose: true,
	})
}
