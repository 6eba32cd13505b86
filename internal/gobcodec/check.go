package gobcodec

import (
	"encoding"
	"encoding/gob"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Check reports whether values of type t can cross to another process and
// arrive whole, before any value is sent: a type gob refuses (a struct with
// no exported fields, a func or chan inside a slice or map), and an exported
// func or chan field, which gob drops without an error, so that the other
// side would get nil. The error names the field, as a path from t
// ("Order.Items[].Notify"), and says what to do. It walks t once, stopping
// at interfaces (their concrete types depend on the value: see
// RegisterHint) and at types with their own encoding (GobEncoder,
// BinaryMarshaler, TextMarshaler), and minds recursive types. Then, if the
// walk met no type with its own encoding (whose methods might refuse a zero
// value that is never sent), it encodes t's zero value, for whatever else
// gob refuses.
func Check(t reflect.Type) error {
	if t.Size() == 0 {
		return nil // Encode sends no bytes for it
	}
	c := checker{seen: map[reflect.Type]bool{}}
	if err := c.walk(t, typeName(t)); err != nil {
		return err
	}
	if c.own {
		return nil
	}
	if err := gob.NewEncoder(io.Discard).EncodeValue(reflect.New(t)); err != nil {
		return fmt.Errorf("gob cannot encode a %v (%v): use types of exported fields of data", t, err)
	}
	return nil
}

type checker struct {
	seen map[reflect.Type]bool // structs walked, or being walked: a recursive type ends here
	own  bool                  // a type with its own encoding was met
}

var (
	gobEncoder      = reflect.TypeFor[gob.GobEncoder]()
	binaryMarshaler = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodesItself reports whether gob hands t's values to their own method,
// as gob's userType finds it: on t or on a pointer to t.
func encodesItself(t reflect.Type) bool {
	for _, i := range []reflect.Type{gobEncoder, binaryMarshaler, textMarshaler} {
		if t.Implements(i) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

// walk checks t, found at path.
func (c *checker) walk(t reflect.Type, path string) error {
	if encodesItself(t) {
		c.own = true
		return nil
	}
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return fmt.Errorf("%s is a %v, which gob cannot send: send data the task can act on instead", path, t)
	case reflect.Pointer:
		return c.walk(t.Elem(), path)
	case reflect.Slice, reflect.Array:
		return c.walk(t.Elem(), path+"[]")
	case reflect.Map:
		if err := c.walk(t.Key(), path+" (a key)"); err != nil {
			return err
		}
		return c.walk(t.Elem(), path+"[key]")
	case reflect.Struct:
		if c.seen[t] {
			return nil
		}
		c.seen[t] = true
		sent := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			field := path + "." + f.Name
			if k := f.Type.Kind(); k == reflect.Func || k == reflect.Chan {
				return fmt.Errorf("field %s is a %v, which gob leaves out without an error, so the other process would get nil: "+
					"remove the field, or unexport it (lowercase) if the task does not need it", field, f.Type)
			}
			if err := c.walk(f.Type, field); err != nil {
				return err
			}
			sent++
		}
		if sent == 0 && t.NumField() > 0 && t.Size() > 0 {
			where := ""
			if path != typeName(t) {
				where = " (at " + path + ")"
			}
			return fmt.Errorf("type %v%s has no exported fields, so gob can send nothing of it: "+
				"export the fields the task needs, or give the type GobEncode and GobDecode methods", t, where)
		}
	}
	return nil
}

// typeName is t's name without its package, for paths: "Order", also for
// a *Order.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer && t.Name() == "" {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// RegisterHint returns err with what to do added if it is gob's error for
// an interface value whose concrete type was not registered (on either
// side), and err unchanged otherwise.
func RegisterHint(err error) error {
	if err == nil || !strings.Contains(err.Error(), "not registered for interface") {
		return err
	}
	return &registerError{err}
}

type registerError struct{ err error }

func (e *registerError) Error() string {
	return e.err.Error() + ": call gob.Register with a value of that type at package level (in an init function of " +
		"the package that defines the type), so that the parent and the worker processes both know it"
}

func (e *registerError) Unwrap() error { return e.err }
