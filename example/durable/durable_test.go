package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/sqlitejournal"
)

func TestMain(m *testing.M) {
	// The test binary is the first program too, as the program's binary is.
	if path, ok := os.LookupEnv(firstEnv); ok {
		if err := first(os.Stdout, path); err != nil {
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}

// TestDurable runs the example, and reads its journal after: every run it
// enqueued finished SUCCESSFUL, the one the kill interrupted too, and the
// program printed each.
func TestDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	var out bytes.Buffer
	require.NoError(t, run(&out, path))
	t.Log("\n" + out.String())

	j, err := sqlitejournal.Open(path)
	require.NoError(t, err)
	defer j.Close()
	_, err = j.Open(t.Context(), "durable", localtasks.JournalFormat)
	require.NoError(t, err)
	runs := map[string]localtasks.JournalRun{}
	require.NoError(t, j.Load(t.Context(), func(r *localtasks.JournalRun) error {
		runs[r.ID] = *r
		return nil
	}, func(*localtasks.JournalStrike) error { return nil }))
	require.Len(t, runs, 6)
	for id, r := range runs {
		require.Equal(t, localtasks.StatusSuccessful, r.Status, id)
		require.Contains(t, out.String(), "enqueued "+id)
		require.Contains(t, out.String(), "  "+id[:8]+"  SUCCESSFUL")
	}
}
