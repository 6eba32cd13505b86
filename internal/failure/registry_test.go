package failure

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks/internal/wire"
)

var errKnown = errors.New("failure test: known")

type codeError struct{ Code int }

func (e *codeError) Error() string { return fmt.Sprint("code ", e.Code) }

type fieldless struct{}

func (fieldless) Error() string { return "fieldless" }

func TestMatchesRebuild(t *testing.T) {
	require.NoError(t, RegisterSentinel(errKnown))
	require.NoError(t, RegisterType(reflect.TypeFor[*codeError]()))
	require.NoError(t, RegisterType(reflect.TypeFor[fieldless]()))
	unknown := errors.New("failure test: not registered")

	err := fmt.Errorf("outer: %w", errors.Join(errKnown, &codeError{Code: 42}, unknown, fieldless{}))
	ms := Matches(err)
	require.Len(t, ms, 3, "the registered errors it holds, not the others")
	remote := &Remote{Report: Describe(err), Matches: Rebuild(ms)}
	require.ErrorIs(t, remote, errKnown)
	require.NotErrorIs(t, remote, unknown, "an error not registered keeps no identity")
	ce, ok := errors.AsType[*codeError](remote)
	require.True(t, ok)
	require.Equal(t, 42, ce.Code)
	_, ok = errors.AsType[fieldless](remote)
	require.True(t, ok, "a type gob cannot encode arrives as its zero value")

	require.Empty(t, Rebuild([]wire.Match{{Key: "no such key"}}), "a key this process does not know is left out")
	require.Empty(t, Matches(unknown))
}

func TestRegisterTypeMisuse(t *testing.T) {
	require.ErrorContains(t, RegisterType(reflect.TypeFor[error]()), "is an interface")
	require.ErrorContains(t, RegisterType(reflect.TypeFor[*struct{ error }]()), "not a named type")
}
