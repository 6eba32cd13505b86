package fields

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type inner struct{ Region string }

type args struct {
	N        int
	Small    uint8
	F        float64
	At       time.Time
	Customer *inner
	hidden   int
}

func TestPath(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[args]()
	idx, ft, err := Path(typ, "Customer.Region")
	require.NoError(t, err)
	require.Equal(t, reflect.TypeFor[string](), ft)
	v, ok := Of(args{Customer: &inner{Region: "eu"}}, idx)
	require.True(t, ok)
	require.Equal(t, "eu", v.String())
	_, ok = Of(args{}, idx)
	require.False(t, ok, "a nil pointer on the way")
	_, ok = Of(&args{Customer: &inner{}}, idx)
	require.True(t, ok, "through a pointer to the argument")

	for _, path := range []string{"Missing", "hidden", "N.X"} {
		t.Run(path, func(t *testing.T) {
			_, _, err := Path(typ, path)
			require.Error(t, err)
		})
	}
	_, _, err = Path(typ, "Missing")
	require.ErrorContains(t, err, "name one of N, Small, F, At, Customer")
}

func TestConvert(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name string
		v    any
		to   reflect.Type
		ok   bool
	}{
		{"int to int", 3, reflect.TypeFor[int](), true},
		{"whole float to int", 2.0, reflect.TypeFor[int](), true},
		{"fraction to int", 2.5, reflect.TypeFor[int](), false},
		{"300 to uint8", 300, reflect.TypeFor[uint8](), false},
		{"-1 to uint8", -1, reflect.TypeFor[uint8](), false},
		{"NaN to float", math.NaN(), reflect.TypeFor[float64](), false},
		{"string to int", "3", reflect.TypeFor[int](), false},
		{"RFC 3339 to time", "2030-01-02T03:04:05Z", reflect.TypeFor[time.Time](), true},
		{"bad time", "tomorrow", reflect.TypeFor[time.Time](), false},
		{"number to time", 1, reflect.TypeFor[time.Time](), false},
		{"nil", nil, reflect.TypeFor[int](), false},
		{"bool", true, reflect.TypeFor[bool](), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Convert(c.v, c.to)
			if c.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	v, err := Convert("2030-01-02T03:04:05Z", reflect.TypeFor[time.Time]())
	require.NoError(t, err)
	require.Equal(t, at, v.Interface())
}

func TestCompare(t *testing.T) {
	t.Parallel()
	val := func(v any) reflect.Value { return reflect.ValueOf(v) }
	require.Equal(t, -1, Compare(val(1), val(2)))
	require.Equal(t, 1, Compare(val(uint(3)), val(uint(2))))
	require.Equal(t, 0, Compare(val(1.5), val(1.5)))
	require.Equal(t, -1, Compare(val("a"), val("b")))
	require.Equal(t, 0, Compare(val(true), val(true)))
	require.Equal(t, 1, Compare(val(true), val(false)), "bools are equal or not")
	now := time.Now()
	require.Equal(t, -1, Compare(val(now), val(now.Add(time.Second))))
	require.True(t, Ordered(reflect.TypeFor[time.Time]()))
	require.False(t, Ordered(reflect.TypeFor[bool]()))
}
