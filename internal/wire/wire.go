// Package wire is the process pool's protocol: a stream of length-prefixed
// frames, each carrying one message, on a pipe between the parent and a
// worker process.
//
// A frame is a 4-byte big-endian payload length followed by the payload: one
// message in a fixed binary layout (codec.go), with no reflection and no
// state carried from one frame to the next. The reader checks each length
// against a limit before it reads the payload, so a corrupt or hostile peer
// cannot make it allocate more, and checks every length inside a message
// against what is left of its frame.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrFrameTooLarge: a frame's length is above the stream's limit.
var ErrFrameTooLarge = errors.New("frame too large")

// Writer encodes messages to a stream. It is safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	buf   []byte // one frame: its header, then its message
	limit int
}

// NewWriter returns a Writer on w that refuses to write a message whose
// payload is larger than limit bytes.
func NewWriter(w io.Writer, limit int) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), limit: limit, buf: make([]byte, 0, 256)}
}

// WriteToWorker encodes m as one frame and buffers it; Flush sends what is
// buffered. A message larger than the limit is not written, and the error
// matches ErrFrameTooLarge; the stream stays usable.
func (w *Writer) WriteToWorker(m *ToWorker) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frame(appendToWorker(w.buf[:4], m), m.Kind)
}

// WriteFromWorker is WriteToWorker for a worker's message.
func (w *Writer) WriteFromWorker(m *FromWorker) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frame(appendFromWorker(w.buf[:4], m), m.Kind)
}

// frame buffers b, a frame whose first 4 bytes are room for its header.
// Must hold w.mu.
func (w *Writer) frame(b []byte, kind Kind) error {
	if cap(b) <= 64<<10 {
		w.buf = b[:0] // keep the scratch buffer, unless one big message grew it
	}
	n := len(b) - 4
	if n > w.limit {
		return fmt.Errorf("wire: a message of kind %d is %d bytes, above the limit of %d: %w", kind, n, w.limit, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	_, err := w.w.Write(b)
	return err
}

// Flush sends the buffered frames.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Flush()
}

// Reader decodes messages from a stream. It is not safe for concurrent use.
type Reader struct {
	r     *bufio.Reader
	limit int
	buf   []byte            // a frame too large for r's buffer
	names map[string]string // interned task names, log streams, error types
}

// NewReader returns a Reader on r that refuses a frame longer than limit
// bytes without reading it.
func NewReader(r io.Reader, limit int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), limit: limit, names: make(map[string]string)}
}

// ReadToWorker decodes the next message into m, which it overwrites. It
// returns io.EOF at the clean end of the stream, and an error matching
// ErrFrameTooLarge for a frame above the limit; after any error the stream
// cannot be read further.
func (r *Reader) ReadToWorker(m *ToWorker) error {
	p, done, err := r.next()
	if err != nil {
		return err
	}
	defer done()
	d := decoder{b: p, names: r.names}
	*m = ToWorker{}
	decodeToWorker(&d, m)
	return d.finish(m.Kind)
}

// ReadFromWorker is ReadToWorker for a worker's message.
func (r *Reader) ReadFromWorker(m *FromWorker) error {
	p, done, err := r.next()
	if err != nil {
		return err
	}
	defer done()
	d := decoder{b: p, names: r.names}
	*m = FromWorker{}
	decodeFromWorker(&d, m)
	return d.finish(m.Kind)
}

// Buffered reports whether the start of another frame has been read from
// the stream already: the next Read will not wait for the peer, unless the
// frame is longer than what arrived of it.
func (r *Reader) Buffered() bool { return r.r.Buffered() > 0 }

// next returns the next frame's payload, and a func to call once it is
// decoded, after which the payload is no longer valid.
func (r *Reader) next() ([]byte, func(), error) {
	hdr, err := r.r.Peek(4)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err == io.ErrUnexpectedEOF {
			return nil, nil, fmt.Errorf("wire: stream ended inside a frame header: %w", err)
		}
		return nil, nil, err // io.EOF: a clean end
	}
	n := binary.BigEndian.Uint32(hdr)
	if int64(n) > int64(r.limit) {
		return nil, nil, fmt.Errorf("wire: a frame of %d bytes is above the limit of %d: %w", n, r.limit, ErrFrameTooLarge)
	}
	r.r.Discard(4)
	if int(n) <= r.r.Size() {
		// The usual case: decode in place, in the reader's buffer.
		p, err := r.r.Peek(int(n))
		if err != nil {
			return nil, nil, truncated(n, err)
		}
		return p, func() { r.r.Discard(int(n)) }, nil
	}
	// A frame larger than the buffer: read it into r.buf, grown as its
	// bytes come, so that a header announcing a large frame costs memory
	// only for what follows it (a worker that falls silent after one
	// costs 64 KiB, not the frame's size).
	buf := r.buf[:0]
	for len(buf) < int(n) {
		want := min(int(n), max(2*len(buf), growFrom))
		if cap(buf) < want {
			buf = append(make([]byte, 0, want), buf...)
		}
		k, err := io.ReadFull(r.r, buf[len(buf):want])
		buf = buf[:len(buf)+k]
		if err != nil {
			r.buf = buf[:0]
			return nil, nil, truncated(n, err)
		}
	}
	r.buf = buf
	return r.buf, func() {}, nil
}

// growFrom is the first size of the buffer a large frame is read into.
const growFrom = 64 << 10

func truncated(n uint32, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("wire: stream ended inside a frame of %d bytes: %w", n, err)
}
