// Package fields finds a field of a task's argument by its path, such as
// "Customer.Region", and compares field values without loss: what limits
// group runs by and strikes match runs with.
package fields

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Path finds the field named by path (dots between nested fields) in t,
// through pointers to structs, and returns its index and type.
func Path(t reflect.Type, path string) ([]int, reflect.Type, error) {
	var idx []int
	ft := t
	for _, name := range strings.Split(path, ".") {
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct {
			return nil, nil, fmt.Errorf("field %q: the argument type %v is not a struct with that field: name an exported field of %v", path, t, t)
		}
		f, ok := ft.FieldByName(name)
		if !ok || !f.IsExported() {
			return nil, nil, fmt.Errorf("field %q: the argument type %v has no exported field %q: name one of %s", path, t, name, names(ft))
		}
		idx = append(idx, f.Index...)
		ft = f.Type
	}
	return idx, ft, nil
}

func names(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		if f.IsExported() {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "its fields (it has no exported one)"
	}
	return strings.Join(names, ", ")
}

// Of returns the field at idx of v, or false if a nil pointer is on the way.
func Of(v any, idx []int) (reflect.Value, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return reflect.Value{}, false
		}
		rv = rv.Elem()
	}
	f, err := rv.FieldByIndexErr(idx)
	if err != nil {
		return reflect.Value{}, false
	}
	return f, true
}

var timeType = reflect.TypeFor[time.Time]()

// Ordered reports whether values of t have an order Compare knows: numbers,
// strings and times.
func Ordered(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return t == timeType
}

// Convert converts v to t without losing anything: 42 to an int64 field,
// 2.0 to an int field, but not 2.5, nor 300 to a uint8. A string in RFC
// 3339 converts to a time.Time.
func Convert(v any, t reflect.Type) (reflect.Value, error) {
	if v == nil {
		return reflect.Value{}, fmt.Errorf("missing: give a %v to compare with", t)
	}
	if s, ok := v.(string); ok && t == timeType {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a time: give a time.Time, or a string in RFC 3339 such as 2030-01-02T15:04:05Z", s)
		}
		v = at
	}
	rv := reflect.ValueOf(v)
	numeric := func(k reflect.Kind) bool {
		return k >= reflect.Int && k <= reflect.Float64
	}
	ok := rv.Type() == t ||
		numeric(rv.Kind()) && numeric(t.Kind()) ||
		rv.Kind() == t.Kind() && (t.Kind() == reflect.String || t.Kind() == reflect.Bool)
	if ok && rv.Type() != t && t == timeType {
		ok = false
	}
	if !ok {
		return reflect.Value{}, fmt.Errorf("%#v is a %T, which does not compare with a %v: give a %v", v, v, t, t)
	}
	c := rv.Convert(t)
	if numeric(t.Kind()) && !sameNumber(rv, c) {
		return reflect.Value{}, fmt.Errorf("%#v does not fit a %v exactly: give a %v", v, t, t)
	}
	return c, nil
}

// sameNumber reports whether a and b hold the same number.
func sameNumber(a, b reflect.Value) bool {
	return b.Convert(a.Type()).Equal(a) && sign(a) == sign(b)
}

func sign(v reflect.Value) int {
	switch {
	case v.CanInt():
		return cmp.Compare(v.Int(), 0)
	case v.CanUint():
		return cmp.Compare(v.Uint(), 0)
	case v.CanFloat():
		return cmp.Compare(v.Float(), 0)
	}
	return 0
}

// Compare orders two values of one type that is Ordered or a bool; two
// bools compare as 0 (equal) or 1 (not).
func Compare(a, b reflect.Value) int {
	switch {
	case a.CanInt():
		return cmp.Compare(a.Int(), b.Int())
	case a.CanUint():
		return cmp.Compare(a.Uint(), b.Uint())
	case a.CanFloat():
		return cmp.Compare(a.Float(), b.Float())
	case a.Kind() == reflect.String:
		return cmp.Compare(a.String(), b.String())
	case a.Kind() == reflect.Bool:
		if a.Bool() == b.Bool() {
			return 0
		}
		return 1
	case a.Type() == timeType:
		return a.Interface().(time.Time).Compare(b.Interface().(time.Time))
	}
	return 1
}
