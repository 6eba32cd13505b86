package localtasks_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// extendLate extends its attempt's timeout once the timeout has expired,
// and returns ExtendTimeout's error as its value's text.
var extendLate = localtasks.Define("test.extend-late", func(ctx context.Context, _ struct{}) (string, error) {
	<-ctx.Done()
	return localtasks.ExtendTimeout(ctx, time.Minute).Error(), nil
})

func TestExtendTimeoutMisuse(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	require.ErrorContains(t, localtasks.ExtendTimeout(ctx, time.Second), "outside a task")

	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}})
	hd, err := extendLate.Using(localtasks.WithTimeout(time.Second)).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Second)
	msg, err := hd.Wait(ctx)
	require.NoError(t, err, "a task that returns a value after its timeout succeeds")
	require.Contains(t, msg, "too late", "an expired timeout cannot be extended")

	byZero := localtasks.Define("test.extend-zero", func(ctx context.Context, _ struct{}) (string, error) {
		return "", localtasks.ExtendTimeout(ctx, 0)
	})
	hz, err := byZero.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = hz.Wait(ctx)
	require.ErrorContains(t, err, "give a positive duration")
}

func TestExtendTimeoutWithoutTimeout(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	none := localtasks.Define("test.extend-none", func(ctx context.Context, _ struct{}) (bool, error) {
		err := localtasks.ExtendTimeout(ctx, time.Minute)
		_, has := ctx.Deadline()
		return has, err
	})
	hd, err := none.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	has, err := hd.Wait(ctx)
	require.NoError(t, err, "no timeout, nothing to extend")
	require.False(t, has)
}

func TestRetryDecidePanics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	policy := localtasks.RetryPolicy{MaxAttempts: 3, Decide: func(int, error, time.Duration) (bool, time.Duration) { panic("bad policy") }}
	hd, err := localtaskstest.Controlled.Using(localtasks.WithRetry(policy)).
		Enqueue(ctx, b, localtaskstest.ScriptArgs{Steps: []string{"sentinel", "fail"}})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtaskstest.ErrControl, "the task's error is kept")
	require.ErrorContains(t, err, "RetryPolicy.Decide panicked on this error, so it is not retried: bad policy")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Attempts)
}

func TestRetryPolicyValidation(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	_, err := localtaskstest.Echo.Using(localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: -2})).
		Enqueue(ctx, b, localtaskstest.EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "RetryForever for no limit")
}

type notAnErrorType interface{ error }

func TestRegisterErrorsMisuse(t *testing.T) {
	t.Parallel()
	require.NotPanics(t, func() { localtasks.RegisterErrors(localtaskstest.ErrControl) }, "registering the same sentinel twice is harmless")
	require.PanicsWithValue(t, `localtasks: RegisterErrors: two sentinel errors of type *errors.errorString say "localtaskstest: controlled failure": `+
		`the worker and the parent could not tell them apart; give them different texts`,
		func() { localtasks.RegisterErrors(errors.New(localtaskstest.ErrControl.Error())) })
	require.Panics(t, func() { localtasks.RegisterErrors(nil) })
	require.Panics(t, func() { localtasks.RegisterErrorType[notAnErrorType]() }, "an interface is no type errors.As can rebuild")
	require.Panics(t, func() { localtasks.RegisterErrorType[error]() })
	require.NotPanics(t, func() { localtasks.RegisterErrorType[*fs.PathError]() })
}
