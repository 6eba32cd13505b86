package localtasks_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Tasks of basic argument and result types, which cross to the workers
// without gob (internal/gobcodec's basic.go), and one of a named basic
// type, which keeps gob.
var (
	upperTask   = localtasks.Define("test.codec.upper", func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	reverseTask = localtasks.Define("test.codec.reverse", func(_ context.Context, b []byte) ([]byte, error) {
		if b == nil {
			return nil, nil
		}
		r := slices.Clone(b)
		slices.Reverse(r)
		return r, nil
	})
	halfTask   = localtasks.Define("test.codec.half", func(_ context.Context, x float64) (float32, error) { return float32(x / 2), nil })
	notTask    = localtasks.Define("test.codec.not", func(_ context.Context, b bool) (bool, error) { return !b, nil })
	negateTask = localtasks.Define("test.codec.negate", func(_ context.Context, x int8) (int64, error) { return -int64(x), nil })
	succTask   = localtasks.Define("test.codec.succ", func(_ context.Context, x uint64) (uint64, error) { return x + 1, nil })
	namedTask  = localtasks.Define("test.codec.named", func(_ context.Context, x celsius) (celsius, error) { return x + 1, nil })
)

type celsius int

func roundTripVia[A, R any](t *testing.T, b localtasks.Backend, task *localtasks.Task[A, R], arg A, want R) {
	t.Helper()
	ctx := testCtx(t)
	h, err := task.Enqueue(ctx, b, arg)
	require.NoError(t, err)
	got, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, want, got, "%s(%v)", task.Name(), arg)
}

func TestProcessPoolBasicTypes(t *testing.T) {
	t.Parallel()
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	roundTripVia(t, b, upperTask, "héllo", "HÉLLO")
	roundTripVia(t, b, upperTask, "", "")
	roundTripVia(t, b, reverseTask, []byte{1, 2, 3}, []byte{3, 2, 1})
	roundTripVia(t, b, reverseTask, []byte{}, nil) // as gob: empty is nil
	roundTripVia(t, b, halfTask, 3.0, float32(1.5))
	roundTripVia(t, b, halfTask, math.Inf(-1), float32(math.Inf(-1)))
	roundTripVia(t, b, notTask, false, true)
	roundTripVia(t, b, negateTask, int8(-128), int64(128))
	roundTripVia(t, b, succTask, uint64(math.MaxUint64-1), uint64(math.MaxUint64))
	roundTripVia(t, b, namedTask, celsius(-3), celsius(-2))
}
