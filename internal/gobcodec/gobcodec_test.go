package gobcodec

import (
	"bytes"
	"encoding/gob"
	"reflect"
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

func TestCodecMatchesFreshGob(t *testing.T) {
	t.Parallel()
	roundTrip(t, 0, 1, -7, 1<<40)
	roundTrip(t, "", "héllo", "x")
	roundTrip(t, []byte{1, 2, 3}, []byte{})
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
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode[codecStruct](b)
		Decode[int](b)
		lastMessage(b)
	})
}
