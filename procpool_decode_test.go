//go:build unix

package localtasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// touchy has its own gob methods, and its GobDecode panics on the value
// "boom", as a hostile or buggy type's may: results are decoded in the
// parent, and so are a perpetual run's next arguments.
type touchy struct{ S string }

func (t touchy) GobEncode() ([]byte, error) { return []byte(t.S), nil }

func (t *touchy) GobDecode(b []byte) error {
	if string(b) == "boom" {
		panic("touchy: cannot decode boom")
	}
	t.S = string(b)
	return nil
}

var (
	touchyTask = localtasks.Define("proc.touchy", func(ctx context.Context, s string) (touchy, error) {
		return touchy{S: s}, nil
	})
	touchyNextTask = localtasks.Define("proc.touchy-next", func(ctx context.Context, a touchy) (string, error) {
		return a.S, localtasks.SetNextArgs(ctx, touchy{S: "boom"})
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Hour}))
)

// A result whose type's GobDecode panics in the parent fails its attempt,
// as a panic with its stack; the parent, the worker and the type's codec go
// on.
func TestProcessPoolPanickingResultDecoder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	for range 2 { // the second time, the codec has seen the panic
		good, err := touchyTask.Enqueue(ctx, b, "fine")
		require.NoError(t, err)
		v, err := good.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, touchy{S: "fine"}, v)

		bad, err := touchyTask.Enqueue(ctx, b, "boom")
		require.NoError(t, err)
		_, err = bad.Wait(ctx)
		require.ErrorContains(t, err, "decoding its result in the parent")
		require.ErrorContains(t, err, "touchy: cannot decode boom")
		var te *localtasks.TaskError
		require.ErrorAs(t, err, &te)
		require.Contains(t, te.Stack, "GobDecode", "the panic's stack")
		res, err := bad.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusFailed, res.Status)
		require.Equal(t, 1, res.Attempts)
	}
}

// A perpetual run's next argument whose GobDecode panics in the parent
// fails that attempt in the same way.
func TestProcessPoolPanickingNextArgsDecoder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := localtaskstest.NewFakeClock(time.Unix(0, 0)) // the next run never comes
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1, Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	h, err := touchyNextTask.Enqueue(ctx, b, touchy{S: "first"})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.ErrorContains(t, err, "decoding the next run's argument in the parent")
	var te *localtasks.TaskError
	require.ErrorAs(t, err, &te)
	require.Contains(t, te.Stack, "GobDecode")

	after, err := pidTask.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = after.Wait(ctx)
	require.NoError(t, err, "the pool goes on")
}
