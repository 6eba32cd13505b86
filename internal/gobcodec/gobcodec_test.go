package gobcodec

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type codecStruct struct {
	N    int
	S    string
	B    []byte
	M    map[string][]int
	P    *codecStruct
	T    time.Time
	skip int
}

type codecIface struct {
	V any
}

// roundTrip checks that encode writes exactly what a fresh gob encoder
// writes, value after value, and that decode and a fresh decoder both read
// it back.
func roundTrip[T any](t *testing.T, vals ...T) {
	t.Helper()
	for range 2 { // the second pass uses a primed codec
		for _, v := range vals {
			var want bytes.Buffer
			require.NoError(t, gob.NewEncoder(&want).Encode(&v))
			got, err := Encode[T](v)
			require.NoError(t, err)
			require.Equal(t, want.Bytes(), got, "encoding %#v", v)
			back, err := Decode[T](got)
			require.NoError(t, err)
			var fresh T
			require.NoError(t, gob.NewDecoder(bytes.NewReader(got)).Decode(&fresh))
			require.Equal(t, fresh, back)
		}
	}
}

// basicRoundTrip checks that a basic type skips gob, in a few bytes, and
// decodes back to what a gob round trip gives.
func basicRoundTrip[T any](t *testing.T, maxLen int, vals ...T) {
	t.Helper()
	for _, v := range vals {
		b, err := Encode[T](v)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), maxLen, "%T %v is %d bytes", v, v, len(b))
		back, err := Decode[T](b)
		require.NoError(t, err)
		var viaGob bytes.Buffer
		require.NoError(t, gob.NewEncoder(&viaGob).Encode(&v))
		var want T
		require.NoError(t, gob.NewDecoder(&viaGob).Decode(&want))
		require.Equal(t, want, back, "%T %v", v, v)
	}
}

// A named type of a basic kind, which could have gob methods of its own.
type namedInt int

func TestBasicTypesSkipGob(t *testing.T) {
	t.Parallel()
	basicRoundTrip(t, 10, 0, 1, -7, 1<<40, math.MinInt, math.MaxInt)
	basicRoundTrip(t, 10, int8(-128), int8(127))
	basicRoundTrip(t, 10, int16(-1))
	basicRoundTrip(t, 10, int32(math.MinInt32))
	basicRoundTrip(t, 10, int64(math.MaxInt64))
	basicRoundTrip(t, 10, uint(0), uint(math.MaxUint))
	basicRoundTrip(t, 10, uint8(255))
	basicRoundTrip(t, 10, uint16(65535))
	basicRoundTrip(t, 10, uint32(1<<31))
	basicRoundTrip(t, 10, uint64(math.MaxUint64))
	basicRoundTrip(t, 10, uintptr(7))
	basicRoundTrip(t, 1, true, false)
	basicRoundTrip(t, 8, 0.0, -1.5, math.Inf(1), math.SmallestNonzeroFloat64)
	basicRoundTrip(t, 4, float32(3.25))
	basicRoundTrip(t, 6, "", "héllo", "x")
	basicRoundTrip(t, 3, []byte{1, 2, 3}, []byte{}, nil)

	// A []byte argument is copied: the caller may reuse its slice.
	arg := []byte{1, 2}
	b, err := Encode[[]byte](arg)
	require.NoError(t, err)
	arg[0] = 9
	require.Equal(t, []byte{1, 2}, b)

	// The type decides, not the value: an int in an any goes through gob.
	gob.Register(0)
	b, err = Encode[any](5)
	require.NoError(t, err)
	var viaGob bytes.Buffer
	var v any = 5
	require.NoError(t, gob.NewEncoder(&viaGob).Encode(&v))
	require.Equal(t, viaGob.Bytes(), b)
	// A named type too.
	roundTrip(t, namedInt(3))

	// What no encoder writes is an error.
	for _, bad := range [][]byte{nil, {0x80}, {1, 2}} {
		_, err := Decode[int](bad)
		require.Error(t, err, "% x", bad)
	}
	_, err = Decode[int8]([]byte{0x80, 0x02}) // 128
	require.Error(t, err)
	_, err = Decode[bool]([]byte{2})
	require.Error(t, err)
	_, err = Decode[float64]([]byte{1, 2, 3})
	require.Error(t, err)
}

func TestCodecMatchesFreshGob(t *testing.T) {
	t.Parallel()
	roundTrip(t, namedInt(0), namedInt(-7))
	roundTrip(t, time.Second)
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	roundTrip(t, codecStruct{}, codecStruct{N: 3, S: "s", B: []byte{9}, M: map[string][]int{"a": {1, 2}},
		P: &codecStruct{N: 4}, T: now})
	// An interface field: descriptions depend on the value; no cached codec.
	gob.Register(0)
	gob.Register("")
	require.Nil(t, codecFor[codecIface](reflectTypeOf[codecIface]()))
	roundTrip(t, codecIface{V: 1}, codecIface{V: "s"})
	roundTrip(t, &codecStruct{N: 1})
}

// A stream from a process that numbers gob's types otherwise has another
// prefix: it decodes, and later streams with that prefix take the primed
// decoder of that prefix.
func TestCodecDecodesOtherPrefixes(t *testing.T) {
	t.Parallel()
	foreign := func(n int) []byte {
		// A fresh encoder that has described another type first numbers
		// codecStruct's types otherwise, as another process would.
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		require.NoError(t, enc.Encode(struct{ X, Y, Z string }{"a", "b", "c"}))
		buf.Reset()
		require.NoError(t, enc.Encode(&codecStruct{N: n, S: "f"}))
		return bytes.Clone(buf.Bytes())
	}
	for i := range 3 {
		b := foreign(i + 10)
		back, err := Decode[codecStruct](b)
		require.NoError(t, err)
		require.Equal(t, i+10, back.(codecStruct).N)
		require.Equal(t, "f", back.(codecStruct).S)
	}
	c := codecFor[codecStruct](reflect.TypeFor[codecStruct]())
	require.NotNil(t, c)
	c.mu.Lock()
	require.NotEmpty(t, c.decs, "a primed decoder for the foreign prefix")
	c.mu.Unlock()
	_, err := Decode[codecStruct]([]byte{0xff, 0xff})
	require.Error(t, err, "garbage is an error, not a panic")
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// FuzzDecode feeds arbitrary bytes, as a hostile worker could send, to the
// cached decoders: errors, never a panic.
func FuzzDecode(f *testing.F) {
	good, err := Encode[codecStruct](codecStruct{N: 1, S: "x", M: map[string][]int{"k": {1}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0x81, 0xff})
	f.Add([]byte{0x80, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode[codecStruct](b)
		lastMessage(b)
		// The basic types: a value that decodes encodes to the same bytes,
		// or to a shorter form of them (a varint of redundant length).
		fuzzBasic[int](t, b)
		fuzzBasic[int8](t, b)
		fuzzBasic[uint32](t, b)
		fuzzBasic[uint64](t, b)
		fuzzBasic[bool](t, b)
		fuzzBasic[float32](t, b)
		fuzzBasic[float64](t, b)
		fuzzBasic[string](t, b)
		fuzzBasic[[]byte](t, b)
	})
}

// fuzzBasic decodes b as a T: when that succeeds, the value encodes to bytes
// that decode to it again.
func fuzzBasic[T any](t *testing.T, b []byte) {
	v, err := Decode[T](b)
	if err != nil {
		return
	}
	again, err := Encode[T](v)
	require.NoError(t, err)
	back, err := Decode[T](again)
	require.NoError(t, err)
	if f, ok := v.(float64); ok && math.IsNaN(f) {
		require.True(t, math.IsNaN(back.(float64)))
		return
	}
	if f, ok := v.(float32); ok && f != f {
		require.True(t, back.(float32) != back.(float32))
		return
	}
	require.Equal(t, v, back)
}

// BenchmarkCodec is one argument's trip: encoded, then decoded, as the
// parent and a worker do for each run.
func BenchmarkCodec(b *testing.B) {
	b.Run("int", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p, err := Encode[int](i)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Decode[int](p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct", func(b *testing.B) {
		v := codecStruct{N: 3, S: "s"}
		b.ReportAllocs()
		for b.Loop() {
			p, err := Encode[codecStruct](v)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Decode[codecStruct](p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fickle has its own gob methods: its GobDecode fails, panics, or takes the
// bytes, as they say, as a hostile or buggy type's may. Its GobEncode
// panics on "panic".
type fickle struct{ B []byte }

func (f fickle) GobEncode() ([]byte, error) {
	if string(f.B) == "panic" {
		panic("fickle: will not encode")
	}
	return f.B, nil
}

func (f *fickle) GobDecode(b []byte) error {
	if len(b) > 0 {
		switch b[0] {
		case 'p':
			panic("fickle: " + string(b))
		case 'e':
			return errors.New("fickle: refused")
		case 'n':
			var m map[string]int
			m[string(b)] = 1 // a runtime error: a nil map
		case 'i':
			_ = b[int(b[len(b)-1])+len(b)] // a runtime error: out of range
		}
	}
	f.B = bytes.Clone(b)
	return nil
}

// fickleHolder holds fickles every way gob reaches them.
type fickleHolder struct {
	F fickle
	P *fickle
	S []fickle
	M map[string]fickle
	N int
}

// A panic of a type's own GobDecode or GobEncode is an error that keeps its
// stack, and the cached codec of the type goes on decoding right.
func TestPanickingMethods(t *testing.T) {
	t.Parallel()
	good, err := Encode[fickleHolder](fickleHolder{F: fickle{B: []byte("ok")}, N: 1})
	require.NoError(t, err)
	bad, err := Encode[fickleHolder](fickleHolder{F: fickle{B: []byte("p: boom")}, N: 2})
	require.NoError(t, err)
	for range 3 {
		v, err := Decode[fickleHolder](good)
		require.NoError(t, err)
		require.Equal(t, fickleHolder{F: fickle{B: []byte("ok")}, N: 1}, v)

		_, err = Decode[fickleHolder](bad)
		p, ok := errors.AsType[*PanicError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, "decoding", p.Op)
		require.Equal(t, "fickle: p: boom", p.Value)
		require.Contains(t, p.Stack, "GobDecode")
		require.ErrorContains(t, err, "gobcodec: decoding a gobcodec.fickleHolder panicked: fickle: p: boom")
	}
	for _, b := range [][]byte{[]byte("n"), []byte("i\x05")} {
		enc, err := Encode[fickle](fickle{B: b})
		require.NoError(t, err)
		_, err = Decode[fickle](enc)
		p, ok := errors.AsType[*PanicError](err)
		require.True(t, ok, "%v", err)
		_, isRuntime := p.Value.(runtime.Error)
		require.True(t, isRuntime, "a runtime error, unwrapped: %v", p.Value)
		require.ErrorAs(t, err, new(runtime.Error))
	}
	_, err = Encode[fickle](fickle{B: []byte("panic")})
	p, ok := errors.AsType[*PanicError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "encoding", p.Op)
	enc, err := Encode[fickle](fickle{B: []byte("fine")})
	require.NoError(t, err, "the cached encoder goes on")
	v, err := Decode[fickle](enc)
	require.NoError(t, err)
	require.Equal(t, fickle{B: []byte("fine")}, v)
}

// FuzzDecodeGobDecoder decodes what a hostile worker may send as a result
// whose type has its own GobDecode: never a panic, and a good value of the
// type still decodes right after whatever came before.
func FuzzDecodeGobDecoder(f *testing.F) {
	for _, v := range []fickleHolder{
		{F: fickle{B: []byte("ok")}, N: 1},
		{F: fickle{B: []byte("p")}, P: &fickle{B: []byte("e")}},
		{S: []fickle{{B: []byte("x")}, {B: []byte("n")}}, M: map[string]fickle{"k": {B: []byte("i\x01")}}},
	} {
		b, err := Encode[fickleHolder](v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	good := fickleHolder{F: fickle{B: []byte("good")}, S: []fickle{{B: []byte("s")}}, N: 7}
	goodBytes, err := Encode[fickleHolder](good)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Decode[fickleHolder](b)
		if p, ok := errors.AsType[*PanicError](err); ok {
			require.NotEmpty(t, p.Stack)
		}
		v, err := Decode[fickle](b)
		if err == nil {
			again, err := Encode[fickle](v)
			require.NoError(t, err)
			back, err := Decode[fickle](again)
			require.NoError(t, err)
			require.Equal(t, v, back)
		}
		back, err := Decode[fickleHolder](goodBytes)
		require.NoError(t, err)
		require.Equal(t, good, back)
	})
}
