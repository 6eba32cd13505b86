package localtasks

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"sync"
)

// The process pool gob-encodes each argument and result on its own, a
// stream of its own. For most types that stream begins with the type's
// description, so each needs a fresh encoder and decoder, and a fresh
// decoder compiles its decoding engine anew: a few microseconds a value.
// For gob's predefined types (bool, ints, uints, floats, complexes, string,
// []byte) a stream carries no description, and one encoder or decoder can
// serve value after value: codecFor keeps one of each, per type.

var basicKinds = map[reflect.Kind]bool{
	reflect.Bool: true, reflect.Int: true, reflect.Int8: true, reflect.Int16: true, reflect.Int32: true, reflect.Int64: true,
	reflect.Uint: true, reflect.Uint8: true, reflect.Uint16: true, reflect.Uint32: true, reflect.Uint64: true,
	reflect.Float32: true, reflect.Float64: true, reflect.Complex64: true, reflect.Complex128: true, reflect.String: true,
}

// isBasic reports whether t is one of gob's predefined types.
func isBasic(t reflect.Type) bool {
	if basicKinds[t.Kind()] {
		return true
	}
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// basicCodec encodes and decodes values of one basic type, one at a time.
type basicCodec struct {
	mu  sync.Mutex
	out bytes.Buffer
	enc *gob.Encoder
	in  bytes.Reader
	dec *gob.Decoder
}

var basicCodecs sync.Map // reflect.Type → *basicCodec

func codecFor(t reflect.Type) *basicCodec {
	if c, ok := basicCodecs.Load(t); ok {
		return c.(*basicCodec)
	}
	c := new(basicCodec)
	c.enc = gob.NewEncoder(&c.out)
	c.dec = gob.NewDecoder(&c.in)
	actual, _ := basicCodecs.LoadOrStore(t, c)
	return actual.(*basicCodec)
}

func (c *basicCodec) encode(v any) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Reset()
	if err := c.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(c.out.Bytes()), nil
}

func (c *basicCodec) decode(b []byte, into any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in.Reset(b)
	return c.dec.Decode(into)
}
