package taskctx

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestCancelAndEnd(t *testing.T) {
	t.Parallel()
	c := New(Info{ID: "id", Task: "t", Number: 2})
	require.NoError(t, c.Err())
	_, has := c.Deadline()
	require.False(t, has)

	fired := make(chan struct{})
	c.AfterFunc(func() { close(fired) })
	stopped := c.AfterFunc(func() { t.Error("a stopped AfterFunc ran") })
	require.True(t, stopped())

	// context.WithCancel under it needs no goroutine of its own: the
	// AfterFunc method serves it.
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()

	timeout := &TimeoutError{After: time.Second}
	require.True(t, c.Cancel(context.DeadlineExceeded, timeout))
	require.False(t, c.Cancel(context.Canceled, ErrCancelled), "only the first cancel counts")
	<-c.Done()
	<-fired
	<-child.Done()
	err, cause := c.Cause()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, error(timeout), cause)
	require.Equal(t, timeout, c.End(), "End reports the timeout that came first")

	later := make(chan struct{})
	c.AfterFunc(func() { close(later) })
	<-later // after the cancel, at once
}

func TestEndWithoutCancel(t *testing.T) {
	t.Parallel()
	c := New(Info{Deadline: time.Unix(10, 0)})
	d, has := c.Deadline()
	require.True(t, has)
	require.Equal(t, time.Unix(10, 0), d)
	done := c.Done() // made before the cancel
	require.Nil(t, c.End())
	<-done
	err, cause := c.Cause()
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, cause, "an attempt that ended has no cause")
}

func TestFromAndAttach(t *testing.T) {
	t.Parallel()
	c := New(Info{ID: "x"})
	require.Same(t, c, From(c))
	require.Same(t, c, From(context.WithValue(c, struct{}{}, 1)))
	require.Nil(t, From(context.Background()))

	parent, cancel := context.WithCancel(context.Background())
	a := Attach(parent, c)
	require.Same(t, c, From(a))
	cancel()
	require.ErrorIs(t, a.Err(), context.Canceled, "the parent's cancellation")
	require.NoError(t, c.Err(), "the attached Ctx itself is never cancelled")
}

func TestLoggerAndProgress(t *testing.T) {
	t.Parallel()
	var got []string
	c := New(Info{ID: "id", Task: "t", Number: 1, Ref: "ref",
		Hooks: &Hooks{Report: func(c *Ctx, done, total int64, message string) { got = append(got, c.Ref.(string)+":"+message) }}})
	require.Same(t, c.Logger(), c.Logger(), "made once")
	c.Progress(1, 2, "half")
	require.Equal(t, []string{"ref:half"}, got)
	New(Info{}).Progress(1, 2, "dropped") // no Report: nothing
}

func TestSetMetadata(t *testing.T) {
	t.Parallel()
	var got []string
	c := New(Info{Ref: "ref", Hooks: &Hooks{Metadata: func(c *Ctx, key, value string) { got = append(got, c.Ref.(string)+":"+key+"="+value) }}})
	c.SetMetadata("rows", "3")
	require.Equal(t, []string{"ref:rows=3"}, got)
	New(Info{}).SetMetadata("k", "dropped") // no Metadata: nothing
}

// A Ctx stays in the allocator's 176-byte size class: one is made for
// every attempt (Info.ended lives in what would be Info's padding).
func TestCtxSize(t *testing.T) {
	t.Parallel()
	require.LessOrEqual(t, unsafe.Sizeof(Ctx{}), uintptr(176))
}

func TestNext(t *testing.T) {
	t.Parallel()
	c := New(Info{Perpetual: true})
	require.Nil(t, c.TakeNext())
	c.SetNext(func(n *Next) { n.At = time.Unix(5, 0) })
	c.SetNext(func(n *Next) { n.Args, n.HasArgs = 7, true })
	var n Next
	n.Merge(c.TakeNext())
	n.Merge(&Next{Stop: true})
	require.Equal(t, Next{Stop: true, At: time.Unix(5, 0), Args: 7, HasArgs: true}, n)
}

func TestTimeoutError(t *testing.T) {
	t.Parallel()
	e := &TimeoutError{After: time.Second, Returned: context.Canceled}
	require.ErrorIs(t, e, ErrTimeout)
	require.ErrorIs(t, e, context.DeadlineExceeded)
	require.ErrorIs(t, e, context.Canceled)
	require.Equal(t, "timed out after 1s: context canceled", e.Error())
	require.Equal(t, "timed out after 1s", (&TimeoutError{After: time.Second}).Error())
	require.False(t, errors.Is(e, ErrCancelled))
}
