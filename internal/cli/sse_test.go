package cli

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	stream := ": ping\n\n" +
		"event: stats\ndata: {\"a\":1}\n\n" +
		"event: task\r\ndata: line one\r\ndata:line two\r\n\r\n" +
		"data: unnamed\n\n" +
		"event: empty\n\n" + // no data: not dispatched
		"id: 7\nretry: 100\nevent: task\ndata: x\n\n" +
		"event: cut\ndata: short" // the stream ends inside an event
	r := newSSEReader(strings.NewReader(stream))
	var got []sseEvent
	for {
		ev, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, ev)
	}
	require.Equal(t, []sseEvent{
		{name: "stats", data: `{"a":1}`},
		{name: "task", data: "line one\nline two"},
		{name: "message", data: "unnamed"},
		{name: "task", data: "x"},
	}, got)
}

func FuzzSSEReader(f *testing.F) {
	f.Add("event: task\ndata: {}\n\n")
	f.Add(": ping\n\ndata: a\ndata: b\r\n\r\n")
	f.Add("event:\ndata\n\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		r := newSSEReader(strings.NewReader(stream))
		for n := 0; ; n++ {
			ev, err := r.next()
			if errors.Is(err, errSSETooLong) {
				require.Greater(t, len(stream), sseMax)
				return
			}
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				return
			}
			require.NotEmpty(t, ev.name)
			require.LessOrEqual(t, n, strings.Count(stream, "\n"), "more events than lines")
		}
	})
}

// endless is a stream that never ends: "data: " and then the same byte
// forever, counting what was read.
type endless struct {
	started bool
	read    int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	if !e.started {
		n = copy(p, "data: ")
		e.started = true
	}
	for i := n; i < len(p); i++ {
		p[i] = 'x'
	}
	e.read += len(p)
	return len(p), nil
}

// An endless line (it reached 24 GB in 30 s before) ends in an error once
// past sseMax, having read little more than that.
func TestSSEReaderBoundsLines(t *testing.T) {
	t.Parallel()
	src := &endless{}
	_, err := newSSEReader(src).next()
	require.ErrorIs(t, err, errSSETooLong)
	require.ErrorContains(t, err, "over 1048576 bytes")
	require.Less(t, src.read, sseMax+64<<10, "it stopped reading soon after the bound")

	// A line of sseMax bytes is fine.
	line := "data: " + strings.Repeat("y", sseMax-len("data: "))
	ev, err := newSSEReader(strings.NewReader(line + "\r\n\r\n")).next()
	require.NoError(t, err)
	require.Len(t, ev.data, sseMax-len("data: "))
}

// An event of many short data lines is bounded too.
func TestSSEReaderBoundsEvents(t *testing.T) {
	t.Parallel()
	line := "data: " + strings.Repeat("z", 1023) + "\n"
	stream := strings.Repeat(line, sseMax/1024+1) + "\n"
	_, err := newSSEReader(strings.NewReader(stream)).next()
	require.ErrorIs(t, err, errSSETooLong)

	stream = strings.Repeat(line, sseMax/1024-1) + "\n"
	ev, err := newSSEReader(strings.NewReader(stream)).next()
	require.NoError(t, err)
	require.Equal(t, sseMax/1024-1, strings.Count(ev.data, "\n")+1)
}
