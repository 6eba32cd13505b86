package localtasks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

type internalWithFunc struct {
	N  int
	Fn func()
}

var (
	internalCodecBad  = Define("internal.codec.bad", func(context.Context, internalWithFunc) (int, error) { return 0, nil })
	internalCodecGood = Define("internal.codec.good", func(context.Context, []string) (map[string]int, error) { return nil, nil })
)

// checkCodec checks once a definition, and says nothing of process pools:
// a journal calls it too.
func TestCheckCodec(t *testing.T) {
	t.Parallel()
	require.NoError(t, internalCodecGood.def.checkCodec())
	err := internalCodecBad.def.checkCodec()
	require.ErrorIs(t, err, ErrInvalidTask)
	require.ErrorContains(t, err, `task "internal.codec.bad"`)
	require.ErrorContains(t, err, "task_internal_test.go", "it names where the task was defined")
	require.ErrorContains(t, err, "its argument type localtasks.internalWithFunc cannot be gob-encoded whole: field internalWithFunc.Fn is a func()")
	require.NotContains(t, err.Error(), "process pool")
	require.Same(t, err, internalCodecBad.def.checkCodec(), "the answer is kept")
}
