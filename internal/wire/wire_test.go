package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	sent := []ToWorker{
		{Kind: KindRun, Seq: 1, ID: "a", Task: "t", Attempt: 1, Args: []byte{1, 2, 3}, Timeout: time.Minute},
		{Kind: KindCancel, Seq: 1, TimedOut: true, Timeout: time.Minute},
		{Kind: KindCancel, Seq: 3, Closing: true},
		{Kind: KindRun, Seq: 2, ID: "b", Task: "t", Attempt: 2, Eager: true},
		{Kind: KindRecall, Seq: 2},
		{Kind: KindRun, Seq: 4, ID: "c", Task: "t", Attempt: 1, Carrier: map[string]string{"traceparent": "00-ab-cd-01", "": ""}},
		{Kind: KindRun, Seq: 5, ID: "d", Task: "t", Attempt: 3, Await: true, Perpetual: true},
		{Kind: KindCarrier, Seq: 5, Carrier: map[string]string{"traceparent": "00-ef-01-01", "tracestate": "a=b"}},
		{Kind: KindCarrier, Seq: 6}, // the middleware's ctx had no trace: the task runs with none
	}
	for _, m := range sent {
		require.NoError(t, w.WriteToWorker(&m))
	}
	require.NoError(t, w.Flush())

	r := NewReader(&stream, 1<<20)
	for i, want := range sent {
		var got ToWorker
		require.NoError(t, r.ReadToWorker(&got), "message %d", i)
		require.Equal(t, want, got)
	}
	var m ToWorker
	require.ErrorIs(t, r.ReadToWorker(&m), io.EOF, "a clean end of stream")
}

// fromWorkerSamples holds a message of every kind a worker sends, with
// every field of its kind set, and some with none.
var fromWorkerSamples = []FromWorker{
	{Kind: KindHello, PID: 42, Version: Version},
	{Kind: KindHello, PID: 43, Version: Version, Err: &Error{Type: "*errors.errorString", Message: "no database", Stack: ""}},
	{Kind: KindHello, PID: 44, Version: Version, Propagates: true},
	{Kind: KindStarted, Seq: 1},
	{Kind: KindRecalled, Seq: 7},
	{Kind: KindHeartbeat},
	{Kind: KindDone, Seq: 1, Took: 1500, Value: []byte{3, 4}},
	{Kind: KindDone, Seq: 1 << 40},
	{Kind: KindDone, Seq: 2, Err: &Error{Type: "string", Message: "boom", Stack: "goroutine 1"}},
	{Kind: KindDone, Seq: 3, Value: []byte("v"), Next: &Next{Stop: true, At: -5, Args: []byte{7}, SetArgs: true}},
	{Kind: KindDone, Seq: 4, Err: &Error{Type: "x"}, Next: &Next{}},
	{Kind: KindDone, Seq: 9, Err: &Error{Type: "*main.E", Message: "m", Permanent: true,
		Matches: []Match{{Key: "sentinel"}, {Key: "*main.E", Value: []byte{1, 2}}}}},
	{Kind: KindDone, Seq: 10, Err: &Error{Type: "snooze", Snooze: true, SnoozeAt: -3, SnoozeFor: 5e9}},
	{Kind: KindExtend, Seq: 11, Extend: 30e9},
	{Kind: KindProgress, Seq: 5, Done: 3, Total: -1, Line: "half"},
	{Kind: KindMetadata, Seq: 5, Meta: Attr{"rows", "1200"}},
	{Kind: KindMetadata, Seq: 8},
	{Kind: KindLog, Seq: 6, Stream: "log", Level: -4, Line: "hello", Attrs: []Attr{{"k", "v"}, {"", ""}}},
	{Kind: KindLog, Seq: 0, Stream: "stdout", Line: "héllo"},
}

func TestFromWorkerRoundTrip(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	for _, m := range fromWorkerSamples {
		require.NoError(t, w.WriteFromWorker(&m))
	}
	require.NoError(t, w.Flush())
	r := NewReader(&stream, 1<<20)
	for i, want := range fromWorkerSamples {
		require.Equal(t, i > 0, r.Buffered(), "message %d is buffered once the first was read", i)
		got := FromWorker{Line: "left from before", Attrs: []Attr{{"old", "x"}}}
		require.NoError(t, r.ReadFromWorker(&got), "message %d", i)
		require.Equal(t, want, got, "message %d", i)
	}
	require.False(t, r.Buffered())
	var m FromWorker
	require.ErrorIs(t, r.ReadFromWorker(&m), io.EOF)
}

// A message that does not fit in the reader's buffer is read whole.
func TestLargeFrame(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	big := bytes.Repeat([]byte("ab"), 100<<10)
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindDone, Seq: 9, Value: big}))
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindStarted, Seq: 10}))
	require.NoError(t, w.Flush())
	r := NewReader(&stream, 1<<20)
	var m FromWorker
	require.NoError(t, r.ReadFromWorker(&m))
	require.Equal(t, big, m.Value)
	require.NoError(t, r.ReadFromWorker(&m))
	require.Equal(t, FromWorker{Kind: KindStarted, Seq: 10}, m)
}

// The messages of the hot path are a few bytes: no field names, no types.
func TestMessagesAreSmall(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindStarted, Seq: 1000}))
	require.NoError(t, w.Flush())
	require.Equal(t, 4+1+2, stream.Len())
	stream.Reset()
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindDone, Seq: 1000, Value: []byte{2}}))
	require.NoError(t, w.Flush())
	require.Equal(t, 4+1+2+1+2+1, stream.Len())
	// A run without a carrier sends no byte of one.
	run := ToWorker{Kind: KindRun, Seq: 1000, ID: "a", Task: "t", Attempt: 1}
	stream.Reset()
	require.NoError(t, w.WriteToWorker(&run))
	require.NoError(t, w.Flush())
	without := stream.Len()
	run.Carrier = map[string]string{}
	stream.Reset()
	require.NoError(t, w.WriteToWorker(&run))
	require.NoError(t, w.Flush())
	require.Equal(t, without, stream.Len(), "an empty carrier is none")
}

// A hello of another version decodes to its version, whatever follows it:
// the parent refuses the worker for its version, not for a bad message.
func TestHelloOfAnotherVersion(t *testing.T) {
	t.Parallel()
	for _, rest := range [][]byte{nil, {1, 'x'}, {0xff, 0xff, 0xff}} {
		p := append([]byte{byte(KindHello), 0, 84, byte(2 * (Version - 1))}, rest...) // PID 42, Version-1
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
		r := NewReader(bytes.NewReader(append(hdr[:], p...)), 1<<10)
		var m FromWorker
		require.NoError(t, r.ReadFromWorker(&m), "rest %v", rest)
		require.Equal(t, FromWorker{Kind: KindHello, PID: 42, Version: Version - 1}, m)
	}
}

// A reader refuses what no writer writes: an unknown kind, a length past
// the frame's end, bytes after the message.
func TestReadRefusesMalformedMessages(t *testing.T) {
	t.Parallel()
	frame := func(p ...byte) []byte {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
		return append(hdr[:], p...)
	}
	for name, b := range map[string][]byte{
		"unknown kind":        frame(99, 1),
		"empty frame":         frame(),
		"string too long":     frame(byte(KindLog), 1, 50, 'a'),
		"trailing bytes":      frame(byte(KindStarted), 1, 0),
		"missing flags":       frame(byte(KindDone), 1, 0, 0),
		"too many attrs":      frame(byte(KindLog), 1, 0, 0, 0, 100, 0, 0),
		"varint too long":     frame(byte(KindStarted), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"hello without ID":    frame(byte(KindHello), 0),
		"hello without flags": frame(byte(KindHello), 0, 84, byte(2*Version)),
	} {
		r := NewReader(bytes.NewReader(b), 1<<10)
		var m FromWorker
		err := r.ReadFromWorker(&m)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, io.EOF, name)
	}
	r := NewReader(bytes.NewReader(frame(byte(KindStarted), 1)), 1<<10)
	var m ToWorker
	require.ErrorContains(t, r.ReadToWorker(&m), "unknown kind", "a worker's message is no message to a worker")
	for name, b := range map[string][]byte{
		"too many carrier pairs": frame(byte(KindCarrier), 1, 100, 0, 0),
		"carrier cut short":      frame(byte(KindCarrier), 1, 1, 1, 'k'),
		"run's carrier missing":  frame(byte(KindRun), 1, 0, 0, 2, 0, 0, 4),
	} {
		r := NewReader(bytes.NewReader(b), 1<<10)
		var m ToWorker
		err := r.ReadToWorker(&m)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, io.EOF, name)
	}
}

func TestWriteRefusesOversizedMessage(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1024)
	err := w.WriteFromWorker(&FromWorker{Kind: KindDone, Seq: 1, Value: make([]byte, 4000)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.Contains(t, err.Error(), "limit of 1024")
	// The stream is still usable: nothing of the refused message was written.
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindDone, Seq: 2, Value: []byte("ok")}))
	require.NoError(t, w.Flush())
	r := NewReader(&stream, 1024)
	var m FromWorker
	require.NoError(t, r.ReadFromWorker(&m))
	require.Equal(t, uint64(2), m.Seq)
}

func TestReadRefusesOversizedFrameWithoutReadingIt(t *testing.T) {
	t.Parallel()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<31)
	// A reader that would hand out 2 GiB: the limit must stop it first.
	src := io.MultiReader(bytes.NewReader(hdr[:]), neverEnding{})
	r := NewReader(src, 1<<20)
	var m FromWorker
	err := r.ReadFromWorker(&m)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.Contains(t, err.Error(), "2147483648 bytes")
}

type neverEnding struct{}

func (neverEnding) Read(b []byte) (int, error) { return len(b), nil }

func TestTruncatedStream(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	require.NoError(t, w.WriteFromWorker(&FromWorker{Kind: KindDone, Seq: 1, Value: []byte("value")}))
	require.NoError(t, w.Flush())
	whole := stream.Bytes()
	for cut := 1; cut < len(whole); cut++ {
		r := NewReader(bytes.NewReader(whole[:cut]), 1<<20)
		var m FromWorker
		err := r.ReadFromWorker(&m)
		require.Error(t, err, "cut at %d", cut)
		require.False(t, errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF), "cut at %d must not look like a clean end: %v", cut, err)
	}
}

// FuzzReader feeds arbitrary bytes to both sides of the protocol: a corrupt
// or hostile peer must get errors, never a panic or a hang. A message that
// decodes encodes to a frame that decodes to it again.
func FuzzReader(f *testing.F) {
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<16)
	for _, m := range fromWorkerSamples {
		if err := w.WriteFromWorker(&m); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(stream.Bytes())
	stream.Reset()
	for _, m := range []ToWorker{
		{Kind: KindRun, Seq: 1, ID: "a", Task: "t", Attempt: 1, Args: []byte{1, 2, 3}, Timeout: time.Minute, Perpetual: true},
		{Kind: KindCancel, Seq: 1, TimedOut: true, Timeout: time.Minute},
		{Kind: KindRecall, Seq: 2},
		{Kind: KindRun, Seq: 3, ID: "b", Task: "t", Attempt: 2, Carrier: map[string]string{"traceparent": "00-ab-cd-01"}},
		{Kind: KindRun, Seq: 4, ID: "c", Task: "t", Attempt: 1, Await: true},
		{Kind: KindCarrier, Seq: 4, Carrier: map[string]string{"traceparent": "00-ab-ef-01", "baggage": "k=v"}},
	} {
		if err := w.WriteToWorker(&m); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(stream.Bytes())
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<16)
		for range 1000 {
			var m FromWorker
			if err := r.ReadFromWorker(&m); err != nil {
				break
			}
			again := appendFromWorker(nil, &m)
			d := decoder{b: again, names: map[string]string{}}
			var back FromWorker
			decodeFromWorker(&d, &back)
			require.NoError(t, d.finish(back.Kind))
			require.Equal(t, m, back)
			// Whatever a log or progress message holds, Fit makes it fit.
			back.Attrs = slices.Clone(back.Attrs)
			Fit(&back, 4096)
			if back.Kind == KindLog || back.Kind == KindProgress {
				require.LessOrEqual(t, len(appendFromWorker(nil, &back)), 4096)
			}
		}
		r = NewReader(bytes.NewReader(data), 1<<16)
		for range 1000 {
			var m ToWorker
			if err := r.ReadToWorker(&m); err != nil {
				break
			}
			again := appendToWorker(nil, &m)
			d := decoder{b: again, names: map[string]string{}}
			var back ToWorker
			decodeToWorker(&d, &back)
			require.NoError(t, d.finish(back.Kind))
			require.Equal(t, m, back)
		}
	})
}

func BenchmarkWriteRead(b *testing.B) {
	pr, pw := io.Pipe()
	w := NewWriter(pw, 1<<20)
	r := NewReader(pr, 1<<20)
	done := make(chan error, 1)
	n := b.N
	go func() {
		for range n {
			var m ToWorker
			if err := r.ReadToWorker(&m); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range n {
		if err := w.WriteToWorker(&ToWorker{Kind: KindRun, Seq: uint64(i), ID: "2b1f0c1e-9f43-4f5e-8d43-1c2d3e4f5a6b", Task: "bench.noop", Attempt: 1, Args: []byte{3, 4, 0, 2}}); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		b    string
		n    int
		want int
	}{
		{"abcdef", 3, 3},
		{"abcdef", 10, 6},
		{"aé", 2, 1},         // é is 2 bytes: not cut in two
		{"aé", 3, 3},         // whole
		{"a€b", 3, 1},        // € is 3 bytes
		{"a€", 10, 4},        // whole, at the end
		{"a\xe2\x82", 10, 1}, // ends inside a character: keep it for the next part
		{"\xff\xff\xff\xff\xff", 2, 2},
	} {
		require.Equal(t, c.want, Cut([]byte(c.b), c.n), "Cut(%q, %d)", c.b, c.n)
	}
}

// Fit cuts a log or progress message to fit a frame, marking each cut, and
// leaves one that fits as it is.
func TestFit(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	big := strings.Repeat("é", 100<<10) // 200 KiB, 2 bytes a character
	manyAttrs := make([]Attr, 5000)
	for i := range manyAttrs {
		manyAttrs[i] = Attr{Key: fmt.Sprint("k", i), Value: "v"}
	}
	for _, c := range []struct {
		name string
		m    FromWorker
	}{
		{"a long line", FromWorker{Kind: KindLog, Seq: 1, Stream: "log", Line: big}},
		{"a long attribute", FromWorker{Kind: KindLog, Seq: 1, Stream: "log", Line: "short", Attrs: []Attr{{"k", big}, {"small", "v"}}}},
		{"a long key", FromWorker{Kind: KindLog, Seq: 1, Stream: "log", Line: big, Attrs: []Attr{{big, "v"}}}},
		{"many attributes", FromWorker{Kind: KindLog, Seq: 1, Stream: "log", Line: big, Attrs: manyAttrs}},
		{"a long progress message", FromWorker{Kind: KindProgress, Seq: 1, Done: 1, Total: 2, Line: big}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			m.Attrs = slices.Clone(c.m.Attrs)
			require.True(t, Fit(&m, limit))
			require.LessOrEqual(t, len(appendFromWorker(nil, &m)), limit)
			require.Greater(t, len(appendFromWorker(nil, &m)), limit*3/4, "it keeps most of what fits")
			require.True(t, utf8.ValidString(m.Line))
			if len(c.m.Line) > limit {
				require.Regexp(t, ` …\[cut \d+ bytes\]$`, m.Line)
			}
			if c.m.Line == "short" {
				require.Equal(t, "short", m.Line, "the shortest texts keep whole")
			}
			for _, a := range m.Attrs {
				require.True(t, utf8.ValidString(a.Key) && utf8.ValidString(a.Value))
			}
			if len(c.m.Attrs) > limit/128 {
				require.Len(t, m.Attrs, limit/128)
				require.Equal(t, Attr{"localtasks.dropped", fmt.Sprint(len(c.m.Attrs)-limit/128+1, " attributes")}, m.Attrs[len(m.Attrs)-1])
			}
			again := m
			require.False(t, Fit(&again, limit), "what fits is left as it is")
		})
	}
	done := FromWorker{Kind: KindDone, Seq: 1, Value: []byte(big)}
	require.False(t, Fit(&done, limit), "only log and progress messages")
}

// A header announcing a large frame, within the limit, costs memory only for
// the bytes that follow it: a worker that falls silent after one (a hostile
// or broken one) does not make the parent hold the whole frame's size.
func TestLargeFrameHeaderCostsWhatFollows(t *testing.T) {
	t.Parallel()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 60<<20)
	r := NewReader(io.MultiReader(bytes.NewReader(hdr[:]), bytes.NewReader(make([]byte, 1000))), 64<<20)
	var m FromWorker
	err := r.ReadFromWorker(&m)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Contains(t, err.Error(), "inside a frame of 62914560 bytes")
	require.LessOrEqual(t, cap(r.buf), growFrom, "the buffer grew with what came, not with the header")
}
