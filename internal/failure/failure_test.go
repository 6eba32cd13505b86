package failure

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatch(t *testing.T) {
	t.Parallel()
	run := func(f func()) (err error) {
		defer Catch(&err)
		f()
		return nil
	}
	err := run(func() { panic("boom") })
	var r *Recovered
	require.ErrorAs(t, err, &r)
	require.Equal(t, "boom", r.Value)
	require.Contains(t, r.Stack, "failure_test.go", "the stack is where it panicked")
	require.Nil(t, r.Unwrap(), "a value that is no error unwraps to nothing")

	err = run(func() { panic(fs.ErrNotExist) })
	require.ErrorIs(t, err, fs.ErrNotExist, "a panic with an error unwraps to it")
	require.NoError(t, run(func() {}))
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	plain := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	remote := &Remote{Report: Report{Type: "*main.E", Message: "far", Stack: "goroutine 7"}}
	for _, c := range []struct {
		name string
		err  error
		want Report
	}{
		{"an error", plain, Report{Type: "*fs.PathError", Message: plain.Error(), Err: plain}},
		{"a panic", &Recovered{Value: 42, Stack: "s"}, Report{Type: "int", Message: "42", Stack: "s"}},
		{"a panic with an error", &Recovered{Value: plain, Stack: "s"}, Report{Type: "*fs.PathError", Message: plain.Error(), Stack: "s", Err: plain}},
		{"a wrapped panic", errors.Join(errors.New("ctx"), &Recovered{Value: "v", Stack: "s"}), Report{Type: "string", Message: "v", Stack: "s"}},
		{"a worker's report", remote, Report{Type: "*main.E", Message: "far", Stack: "goroutine 7", Err: remote}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Describe(c.err))
		})
	}
	wrapped := Describe(errors.Join(remote))
	require.Equal(t, "*errors.joinError", wrapped.Type, "only a report that is the error itself is taken as it is")
}
