package localtasks_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

var namesTask = localtasks.Define("test.names", nop)

// An unnamed backend is named in errors by its kind, never as backend "";
// a named one by its name.
func TestErrorsNameTheBackend(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	unknown := "00000000-0000-4000-8000-000000000000"
	for _, c := range []struct {
		name string
		open func() (localtasks.Controller, error)
		want string
	}{
		{"unnamed thread pool", func() (localtasks.Controller, error) {
			return localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
		}, "the thread pool"},
		{"named thread pool", func() (localtasks.Controller, error) {
			return localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "test.names.pool"}, MaxWorkers: 1})
		}, `backend "test.names.pool"`},
		{"unnamed immediate backend", func() (localtasks.Controller, error) {
			return localtasks.NewImmediate(localtasks.Config{})
		}, "the immediate backend"},
		{"unnamed recording backend", func() (localtasks.Controller, error) {
			return localtasks.NewRecording(localtasks.Config{})
		}, "the recording backend"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := c.open()
			require.NoError(t, err)
			_, err = b.GetResult(ctx, unknown)
			require.ErrorIs(t, err, localtasks.ErrResultNotFound)
			require.ErrorContains(t, err, "on "+c.want+":")
			require.NotContains(t, err.Error(), `backend ""`)

			_, err = b.Enqueue(ctx, namesTask.Definition(), 1, localtasks.Options{Queue: "nowhere"})
			require.ErrorContains(t, err, "not one of "+c.want+"'s queues")

			require.NoError(t, b.Close(context.Background()))
			_, err = b.Enqueue(ctx, namesTask.Definition(), 1, namesTask.Options())
			require.ErrorIs(t, err, localtasks.ErrClosed)
			require.ErrorContains(t, err, c.want+" is closed")
		})
	}
}
