package river_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
	"github.com/localtasks/localtasks/localtaskstest"
)

type withFunc struct{ F func() }
type structKey struct{ A, B int }

var (
	funcArg    = localtasks.Define("river_test.func-arg", func(ctx context.Context, a withFunc) (int, error) { return 0, nil })
	chanResult = localtasks.Define("river_test.chan-result", func(ctx context.Context, a int) (chan int, error) { return nil, nil })
	complexArg = localtasks.Define("river_test.complex-arg", func(ctx context.Context, a complex128) (int, error) { return 0, nil })
	mapKey     = localtasks.Define("river_test.map-key", func(ctx context.Context, a map[structKey]string) (int, error) { return 0, nil })
	intKeys    = localtasks.Define("river_test.int-keys", func(ctx context.Context, a map[int]string) (map[int]string, error) { return a, nil })
)

func TestEnqueueRefusesWhatJSONCannotCarry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t)})
	require.NoError(t, err)
	defer b.Close(ctx)
	cases := []struct {
		name string
		def  localtasks.Definition
		args any
		want string
	}{
		{"func field", funcArg.Definition(), withFunc{}, "func()"},
		{"chan result", chanResult.Definition(), 1, "chan int"},
		{"complex", complexArg.Definition(), complex(1, 2), "complex128"},
		{"struct map key", mapKey.Definition(), map[structKey]string{}, "map whose keys"},
	}
	for _, c := range cases {
		r, err := b.Enqueue(ctx, c.def, c.args, c.def.Options())
		require.ErrorIs(t, err, localtasks.ErrInvalidTask, c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.ErrorContains(t, err, "JSON", c.name)
		require.Empty(t, r.ID)
	}
	h, err := intKeys.Enqueue(ctx, b, map[int]string{1: "one"})
	require.NoError(t, err, "integer keys are JSON object keys")
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, map[int]string{1: "one"}, res.Args)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := ltriver.New(ctx, nil, ltriver.Config{})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	_, err = ltriver.New(ctx, pool, ltriver.Config{Workers: -1})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	_, err = ltriver.New(ctx, pool, ltriver.Config{Workers: 1, Tasks: []string{"no.such.task"}})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "no.such.task")
}

// TestPriorityOrder checks that higher priorities start first, across
// River's levels, on one worker.
func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := newSchema(t)
	producer, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema})
	require.NoError(t, err)
	defer producer.Close(ctx)
	var hs []localtasks.Handle[localtaskstest.EchoArgs]
	for i, p := range []int{-100, -10, 0, 10} {
		h, err := localtaskstest.Echo.Using(localtasks.WithPriority(p)).Enqueue(ctx, producer, localtaskstest.EchoArgs{N: i})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	worker, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet})
	require.NoError(t, err)
	defer worker.Close(ctx)
	var started []time.Time
	for _, h := range hs {
		_, err := h.Wait(ctx)
		require.NoError(t, err)
		res, err := h.Result(ctx)
		require.NoError(t, err)
		started = append(started, res.StartedAt)
	}
	for i := 1; i < len(started); i++ {
		require.False(t, started[i].After(started[i-1]), "priority order: %v", started)
	}
	res, err := hs[0].Result(ctx)
	require.NoError(t, err)
	require.Equal(t, -100, res.Priority, "the result keeps the localtasks priority")
}

func TestCancelUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: newSchema(t)})
	require.NoError(t, err)
	defer b.Close(ctx)
	for _, id := range []string{"0", "-1", "007", "999999"} {
		require.True(t, errors.Is(b.Cancel(ctx, id), localtasks.ErrResultNotFound), id)
	}
}
