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
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				return
			}
			require.NotEmpty(t, ev.name)
			require.LessOrEqual(t, n, strings.Count(stream, "\n"), "more events than lines")
		}
	})
}
