package gobcodec

import (
	"bytes"
	"encoding/gob"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type (
	checkPlain struct {
		N int
		S []string
		M map[string]*checkPlain // recursive
		T time.Time
		f func() // unexported: gob never sends it, nor anyone expects it
	}
	checkFunc struct {
		N        int
		Callback func(int)
	}
	checkChan struct{ Done chan struct{} }
	checkDeep struct {
		Items []checkItem
	}
	checkItem struct {
		Name  string
		Hooks map[string]checkHook
	}
	checkHook   struct{ Run func() }
	checkHidden struct{ n int }
	checkHolds  struct {
		A int
		H *checkHidden
	}
	checkSliceOfFuncs struct{ Fs []func() }
	checkIface        struct{ V any }
	checkRecursive    struct {
		Next *checkRecursive
		Fn   func()
	}
	// checkOwn encodes itself: its func field never reaches gob.
	checkOwn struct{ Fn func() }
	// checkZeroFails refuses to encode its zero value: Check must not
	// refuse the type for it, as no zero value is ever sent.
	checkZeroFails struct{ P *int }
)

func (checkOwn) GobEncode() ([]byte, error) { return []byte{1}, nil }
func (*checkOwn) GobDecode(b []byte) error  { return nil }
func (z checkZeroFails) MarshalBinary() ([]byte, error) {
	if z.P == nil {
		return nil, errors.New("nothing to marshal")
	}
	return []byte{byte(*z.P)}, nil
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		typ  reflect.Type
		want []string // in the error; none for no error
	}{
		{"basic", reflect.TypeFor[int](), nil},
		{"bytes", reflect.TypeFor[[]byte](), nil},
		{"empty struct", reflect.TypeFor[struct{}](), nil},
		{"plain, recursive through a map", reflect.TypeFor[checkPlain](), nil},
		{"pointer to plain", reflect.TypeFor[*checkPlain](), nil},
		{"interface field", reflect.TypeFor[checkIface](), nil},
		{"own encoding", reflect.TypeFor[checkOwn](), nil},
		{"own encoding refusing its zero value", reflect.TypeFor[checkZeroFails](), nil},
		{"func field", reflect.TypeFor[checkFunc](), []string{"field checkFunc.Callback", "func(int)", "would get nil", "remove the field"}},
		{"chan field", reflect.TypeFor[checkChan](), []string{"field checkChan.Done", "chan struct {}"}},
		{"func field, deep", reflect.TypeFor[*checkDeep](), []string{"field checkDeep.Items[].Hooks[key].Run", "func()"}},
		{"func in a slice", reflect.TypeFor[checkSliceOfFuncs](), []string{"checkSliceOfFuncs.Fs[] is a func()", "cannot send"}},
		{"func field of a recursive type", reflect.TypeFor[checkRecursive](), []string{"field checkRecursive.Fn"}},
		{"a func", reflect.TypeFor[func()](), []string{"func() is a func()"}},
		{"a chan", reflect.TypeFor[chan int](), []string{"chan int is a chan int"}},
		{"no exported fields", reflect.TypeFor[checkHidden](), []string{"type gobcodec.checkHidden has no exported fields", "export the fields"}},
		{"no exported fields, nested", reflect.TypeFor[checkHolds](), []string{"type gobcodec.checkHidden (at checkHolds.H) has no exported fields"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := Check(c.typ)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range c.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// What Check lets through gob sends whole: each case it refuses is one gob
// refuses or silently truncates.
func TestCheckAgreesWithGob(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.Error(t, gob.NewEncoder(&buf).Encode(&checkHolds{}), "gob refuses it too")
	require.Error(t, gob.NewEncoder(&buf).Encode(&checkSliceOfFuncs{}), "gob refuses it too")
	buf.Reset()
	require.NoError(t, gob.NewEncoder(&buf).Encode(&checkFunc{N: 1, Callback: func(int) {}}), "gob drops the field without a word")
	var got checkFunc
	require.NoError(t, gob.NewDecoder(&buf).Decode(&got))
	require.Nil(t, got.Callback, "which is why Check refuses it")
}

func TestRegisterHint(t *testing.T) {
	t.Parallel()
	type unregistered struct{ X int }
	_, err := Encode[checkIface](checkIface{V: unregistered{1}})
	require.Error(t, err)
	hinted := RegisterHint(err)
	require.ErrorContains(t, hinted, "gob.Register")
	require.ErrorIs(t, hinted, err)
	other := errors.New("other")
	require.Same(t, other, RegisterHint(other), "other errors pass unchanged")
	require.NoError(t, RegisterHint(nil))
}
