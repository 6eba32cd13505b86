// Package wire is the process pool's protocol: a stream of length-prefixed
// frames, each carrying one gob-encoded message, on a pipe between the
// parent and a worker process.
//
// A frame is a 4-byte big-endian payload length followed by the payload: the
// bytes one Encode of the stream's gob.Encoder wrote. The encoder lives as
// long as the stream, so gob sends each type's description once, not once a
// message. The reader checks each length against a limit before it reads
// the payload, so a corrupt or hostile peer cannot make it allocate more.
//
// An empty frame means the sender's gob stream starts again: the writer sends
// one after refusing an oversized message, whose type descriptions its
// encoder believes sent, and the reader starts a new decoder.
package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
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
	buf   bytes.Buffer // one message's gob bytes
	enc   *gob.Encoder
	limit int
}

// NewWriter returns a Writer on w that refuses to write a message whose
// payload is larger than limit bytes.
func NewWriter(w io.Writer, limit int) *Writer {
	wr := &Writer{w: bufio.NewWriterSize(w, 64<<10), limit: limit}
	wr.enc = gob.NewEncoder(&wr.buf)
	return wr
}

// Write encodes m as one frame and buffers it; Flush sends what is buffered.
// A message larger than the limit is not written, and the error matches
// ErrFrameTooLarge; the stream stays usable.
func (w *Writer) Write(m any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	if err := w.enc.Encode(m); err != nil {
		// gob may have registered a type description it did not send:
		// the encoder's state no longer matches the peer's decoder.
		return fmt.Errorf("wire: encoding %T: %w (the stream is unusable)", m, err)
	}
	n := w.buf.Len()
	if n > w.limit {
		// The refused bytes may hold type descriptions the encoder now
		// thinks the peer has: start both ends' gob streams again.
		w.buf.Reset()
		w.enc = gob.NewEncoder(&w.buf)
		if _, err := w.w.Write(make([]byte, 4)); err != nil {
			return err
		}
		return fmt.Errorf("wire: a %T message is %d bytes, above the limit of %d: %w", m, n, w.limit, ErrFrameTooLarge)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(n))
	if _, err := w.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.w.Write(w.buf.Bytes())
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
	cur   []byte // the current frame's unread payload
	buf   []byte
	dec   *gob.Decoder
}

// NewReader returns a Reader on r that refuses a frame longer than limit
// bytes without reading it.
func NewReader(r io.Reader, limit int) *Reader {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
	rd.dec = gob.NewDecoder(payload{rd})
	return rd
}

// Read decodes the next message into m, a pointer. It returns io.EOF at the
// clean end of the stream, and an error matching ErrFrameTooLarge for a frame
// above the limit; after any error the stream cannot be read further.
func (r *Reader) Read(m any) error {
	if err := r.next(); err != nil {
		return err
	}
	if err := r.dec.Decode(m); err != nil {
		return fmt.Errorf("wire: decoding a frame into %T: %w", m, err)
	}
	if len(r.cur) != 0 {
		return fmt.Errorf("wire: a frame held %d bytes more than one message", len(r.cur))
	}
	return nil
}

// next reads the next frame's payload into cur.
func (r *Reader) next() error {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return fmt.Errorf("wire: stream ended inside a frame header: %w", err)
			}
			return err // io.EOF: a clean end
		}
		if binary.BigEndian.Uint32(hdr[:]) != 0 {
			break
		}
		r.dec = gob.NewDecoder(payload{r}) // the sender's gob stream starts again
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(r.limit) {
		return fmt.Errorf("wire: a frame of %d bytes is above the limit of %d: %w", n, r.limit, ErrFrameTooLarge)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("wire: stream ended inside a frame of %d bytes: %w", n, err)
	}
	r.cur = r.buf
	return nil
}

// payload is the gob decoder's view of the stream: the current frame's
// payload and nothing past it. It is an io.ByteReader, so gob reads exactly
// what it needs and never blocks on the next frame.
type payload struct{ r *Reader }

func (p payload) Read(b []byte) (int, error) {
	if len(p.r.cur) == 0 {
		return 0, io.ErrUnexpectedEOF // a message longer than its frame
	}
	n := copy(b, p.r.cur)
	p.r.cur = p.r.cur[n:]
	return n, nil
}

func (p payload) ReadByte() (byte, error) {
	if len(p.r.cur) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	c := p.r.cur[0]
	p.r.cur = p.r.cur[1:]
	return c, nil
}
