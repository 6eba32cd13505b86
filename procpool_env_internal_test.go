//go:build unix

package localtasks

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var internalGORACE = Define("internal.gorace", func(ctx context.Context, _ struct{}) (string, error) {
	return os.Getenv("GORACE"), nil
})

func TestWorkerEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		env  []string
		race bool
		want []string
	}{
		{"not a race build", []string{"A=1"}, false, []string{"A=1"}},
		{"race build", []string{"A=1"}, true, []string{"A=1", "GORACE=atexit_sleep_ms=0"}},
		{"other race options kept", []string{"GORACE=halt_on_error=1", "A=1"}, true,
			[]string{"GORACE=halt_on_error=1", "A=1", "GORACE=halt_on_error=1 atexit_sleep_ms=0"}},
		{"the last GORACE counts", []string{"GORACE=atexit_sleep_ms=5", "GORACE=log_path=x"}, true,
			[]string{"GORACE=atexit_sleep_ms=5", "GORACE=log_path=x", "GORACE=log_path=x atexit_sleep_ms=0"}},
		{"the program's own sleep kept", []string{"GORACE=atexit_sleep_ms=200"}, true, []string{"GORACE=atexit_sleep_ms=200"}},
	} {
		require.Equal(t, c.want, workerEnv(c.env, c.race), c.name)
	}
}

// A worker of a race build runs without the race runtime's second of sleep
// at exit, which every Close waited for; see workerEnv.
func TestWorkerNoRaceSleepAtExit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := NewProcessPool(ProcessPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close(ctx)) }()
	h, err := internalGORACE.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	got, err := h.Wait(ctx)
	require.NoError(t, err)
	if raceBuild {
		require.Contains(t, got, "atexit_sleep_ms=0")
	} else {
		require.Equal(t, os.Getenv("GORACE"), got)
	}
}
