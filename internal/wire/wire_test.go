package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

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
		{Kind: KindRun, Seq: 2, ID: "b", Task: "t", Attempt: 2},
	}
	for _, m := range sent {
		require.NoError(t, w.Write(m))
	}
	require.NoError(t, w.Flush())

	r := NewReader(&stream, 1<<20)
	for i, want := range sent {
		var got ToWorker
		require.NoError(t, r.Read(&got), "message %d", i)
		require.Equal(t, want.Kind, got.Kind)
		require.Equal(t, want.Seq, got.Seq)
		require.Equal(t, want.ID, got.ID)
		require.Equal(t, want.Args, got.Args)
		require.Equal(t, want.Timeout, got.Timeout)
		require.Equal(t, want.TimedOut, got.TimedOut)
		require.Equal(t, want.Closing, got.Closing)
	}
	var m ToWorker
	require.ErrorIs(t, r.Read(&m), io.EOF, "a clean end of stream")
}

func TestTypesDescribedOnce(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	require.NoError(t, w.Write(FromWorker{Kind: KindStarted, Seq: 1}))
	require.NoError(t, w.Flush())
	first := stream.Len()
	require.NoError(t, w.Write(FromWorker{Kind: KindStarted, Seq: 2}))
	require.NoError(t, w.Flush())
	second := stream.Len() - first
	require.Less(t, second, first/4, "the second message carries no type description (%d bytes, first %d)", second, first)
}

func TestWriteRefusesOversizedMessage(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1024)
	err := w.Write(FromWorker{Kind: KindDone, Seq: 1, Value: make([]byte, 4000)})
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.Contains(t, err.Error(), "limit of 1024")
	// The stream is still usable: nothing of the refused message was written.
	require.NoError(t, w.Write(FromWorker{Kind: KindDone, Seq: 2, Value: []byte("ok")}))
	require.NoError(t, w.Flush())
	r := NewReader(&stream, 1024)
	var m FromWorker
	require.NoError(t, r.Read(&m))
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
	err := r.Read(&m)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.Contains(t, err.Error(), "2147483648 bytes")
}

type neverEnding struct{}

func (neverEnding) Read(b []byte) (int, error) { return len(b), nil }

func TestTruncatedStream(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<20)
	require.NoError(t, w.Write(FromWorker{Kind: KindDone, Seq: 1, Value: []byte("value")}))
	require.NoError(t, w.Flush())
	whole := stream.Bytes()
	for cut := 1; cut < len(whole); cut++ {
		r := NewReader(bytes.NewReader(whole[:cut]), 1<<20)
		var m FromWorker
		err := r.Read(&m)
		require.Error(t, err, "cut at %d", cut)
		require.False(t, errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF), "cut at %d must not look like a clean end: %v", cut, err)
	}
}

// FuzzReader feeds arbitrary bytes to the parent's side of the protocol: a
// corrupt or hostile worker must get errors, never a panic or a hang.
func FuzzReader(f *testing.F) {
	var stream bytes.Buffer
	w := NewWriter(&stream, 1<<16)
	for _, m := range []FromWorker{
		{Kind: KindHello, PID: 42, Version: Version},
		{Kind: KindStarted, Seq: 1},
		{Kind: KindDone, Seq: 1, Value: []byte{3, 4}},
		{Kind: KindDone, Seq: 2, Err: &Error{Type: "string", Message: "boom", Stack: "goroutine 1"}},
		{Kind: KindLog, Seq: 2, Stream: "log", Level: 4, Line: "hello", Attrs: []Attr{{"k", "v"}}},
	} {
		if err := w.Write(m); err != nil {
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
			if err := r.Read(&m); err != nil {
				return
			}
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
			if err := r.Read(&m); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range n {
		if err := w.Write(ToWorker{Kind: KindRun, Seq: uint64(i), ID: "2b1f0c1e-9f43-4f5e-8d43-1c2d3e4f5a6b", Task: "bench.noop", Attempt: 1, Args: []byte{3, 4, 0, 2}}); err != nil {
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
