// Package gobcodec encodes each argument and result of a process-pool task
// on its own: a basic type (basic.go) in a few bytes without gob, anything
// else as a standalone gob stream a fresh decoder can read, with a cache of
// what makes that fast.
package gobcodec

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
)

// PanicError is a panic of a type's own encoding or decoding method
// (GobEncode, GobDecode, MarshalBinary, UnmarshalBinary, ...), recovered by
// Encode or Decode: the bytes a worker sends are decoded in the parent, and
// a hostile or buggy type must fail its value there, not the process.
type PanicError struct {
	Op    string       // "encoding" or "decoding"
	Type  reflect.Type // the type of the value
	Value any          // what it panicked with
	Stack string       // where it panicked
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("gobcodec: %s a %v panicked: %v", e.Op, e.Type, e.Value)
}

// Unwrap returns the panic value if it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

func panicked[T any](op string, v any) *PanicError {
	return &PanicError{Op: op, Type: reflect.TypeFor[T](), Value: v, Stack: string(debug.Stack())}
}

// Encode encodes v, of type T, on its own: a basic type as basic.go says,
// anything else as a gob stream with its own type descriptions. A zero-size
// T (struct{}) is no bytes: gob refuses a struct with no exported fields,
// and there is nothing to send. A panic of T's own methods is returned as
// a *PanicError; an interface value of an unregistered type, with what to
// do (RegisterHint).
func Encode[T any](v any) (_ []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked[T]("encoding", p)
		}
	}()
	if b, ok := encodeBasic[T](v); ok {
		return b, nil
	}
	typ := reflect.TypeFor[T]()
	if typ.Size() == 0 {
		return nil, nil
	}
	t, _ := v.(T)
	if c := codecFor[T](typ); c != nil {
		return c.encode(&t)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&t); err != nil {
		return nil, RegisterHint(err)
	}
	return buf.Bytes(), nil
}

// Decode decodes a stream Encode[T] wrote, in this process or another. A
// panic of T's own methods (GobDecode, say) is returned as a *PanicError:
// b comes from another process, which may be hostile.
func Decode[T any](b []byte) (_ any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked[T]("decoding", p)
		}
	}()
	if v, ok, err := decodeBasic[T](b); ok {
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	var t T
	typ := reflect.TypeFor[T]()
	if typ.Size() == 0 {
		return t, nil
	}
	if c := codecFor[T](typ); c != nil {
		if ok, err := c.decode(b, &t); ok {
			if err != nil {
				return nil, err
			}
			return t, nil
		}
	}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&t); err != nil {
		return nil, RegisterHint(err)
	}
	return t, nil
}

// The process pool gob-encodes each argument and result on its own, a
// standalone gob stream, which a fresh decoder can read. Such a stream is the
// descriptions of the types involved, then the value; a fresh decoder reads
// the descriptions and compiles its decoding engine anew each time, tens of
// microseconds for a struct.
//
// For a type whose encoding involves no interface, the descriptions do not
// depend on the value: every standalone stream of the type that one process
// writes begins with the same bytes, its prefix (another process may number
// the types otherwise, and write another prefix). A typeCodec keeps, per such
// type, one encoder primed with its own prefix, and encodes a value as the
// prefix plus the message the primed encoder writes: exactly what a fresh
// encoder writes. To decode, it splits a stream into its prefix and its
// value's message, and hands the message to a decoder primed with that
// prefix: a few, per type. Anything else takes a fresh encoder or decoder.

type typeCodec struct {
	mu     sync.Mutex
	prefix []byte
	out    bytes.Buffer
	enc    *gob.Encoder
	decs   map[string]*primedDecoder // by the prefix they were primed with
}

// primedDecoder is a decoder that has read a prefix: it reads values.
type primedDecoder struct {
	in  bytes.Reader
	dec *gob.Decoder
}

// maxDecoders bounds the decoders a type keeps: one a peer process that
// numbers types its own way; a pool's parent and workers are two such.
const maxDecoders = 4

var typeCodecs sync.Map // reflect.Type → *typeCodec, or nil for types not cached

// codecFor returns the cached codec of t, or nil if t cannot have one.
func codecFor[T any](t reflect.Type) *typeCodec {
	if c, ok := typeCodecs.Load(t); ok {
		c, _ := c.(*typeCodec)
		return c
	}
	c := newTypeCodec[T](t)
	actual, _ := typeCodecs.LoadOrStore(t, c)
	c, _ = actual.(*typeCodec)
	return c
}

func newTypeCodec[T any](t reflect.Type) *typeCodec {
	if hasInterface(t, map[reflect.Type]bool{}) {
		return nil
	}
	c := new(typeCodec)
	c.enc = gob.NewEncoder(&c.out)
	var zero T
	if c.enc.Encode(&zero) != nil {
		return nil // a nil pointer, say: no value to prime with
	}
	first := bytes.Clone(c.out.Bytes())
	c.out.Reset()
	if c.enc.Encode(&zero) != nil {
		return nil
	}
	msg := c.out.Bytes()
	if !bytes.HasSuffix(first, msg) {
		return nil
	}
	c.prefix = first[:len(first)-len(msg)]
	c.decs = make(map[string]*primedDecoder)
	return c
}

// hasInterface reports whether encoding t may involve an interface, whose
// concrete types make the descriptions depend on the value.
func hasInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return hasInterface(t.Elem(), seen)
	case reflect.Map:
		return hasInterface(t.Key(), seen) || hasInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && hasInterface(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

func (c *typeCodec) encode(v any) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Reset()
	if err := c.enc.Encode(v); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(c.prefix)+c.out.Len())
	return append(append(b, c.prefix...), c.out.Bytes()...), nil
}

// decode decodes b into into, and reports false if it did not, for a fresh
// decoder to read b.
func (c *typeCodec) decode(b []byte, into any) (bool, error) {
	n, ok := lastMessage(b)
	if !ok {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decs[string(b[:n])]
	if d == nil {
		if len(c.decs) >= maxDecoders {
			return false, nil
		}
		// The first stream with this prefix primes a decoder: it reads
		// the prefix and this value, and reads only values after.
		d = new(primedDecoder)
		d.in.Reset(b)
		d.dec = gob.NewDecoder(&d.in)
		if err := d.dec.Decode(into); err != nil {
			return false, nil
		}
		c.decs[string(b[:n])] = d
		return true, nil
	}
	d.in.Reset(b[n:])
	ok = false
	defer func() {
		if !ok {
			// A decode that failed or panicked (a type's GobDecode) may
			// have left the decoder inside a message: the next stream
			// with this prefix primes a fresh one.
			delete(c.decs, string(b[:n]))
		}
	}()
	err := d.dec.Decode(into)
	ok = err == nil
	return true, err
}

// lastMessage returns where the last gob message of stream b begins: a
// stream is messages, each its length as a gob unsigned integer, then that
// many bytes.
func lastMessage(b []byte) (int, bool) {
	last := -1
	for i := 0; i < len(b); {
		start := i
		length, w := gobUint(b[i:])
		if w == 0 || length > uint64(len(b)-i-w) {
			return 0, false
		}
		i += w + int(length)
		last = start
	}
	return last, last >= 0
}

// gobUint decodes a gob unsigned integer: a byte below 128 is itself;
// otherwise it is the negated count of the big-endian bytes that follow. It
// returns the value and the bytes it took, 0 if b is too short.
func gobUint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	n := 256 - int(b[0]) // the byte is -n, two's complement: 1 to 128
	if n > 8 || len(b) < 1+n {
		return 0, 0
	}
	var v uint64
	for _, c := range b[1 : 1+n] {
		v = v<<8 | uint64(c)
	}
	return v, 1 + n
}
