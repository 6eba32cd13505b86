package failure

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/localtasks/localtasks/internal/wire"
)

// The errors whose identity crosses from a worker process to its parent:
// sentinel values, matched with errors.Is, and types, matched with
// errors.As and sent gob-encoded. Both processes run the same binary and
// register the same errors at package initialisation, so a key names the
// same error on either side.
var registry struct {
	mu        sync.RWMutex
	sentinels map[string]error
	types     map[string]reflect.Type
	order     []string // the keys, in registration order: matching is in it
}

// RegisterSentinel registers err, keyed by its type and text.
func RegisterSentinel(err error) error {
	if err == nil {
		return errors.New("a nil error cannot be registered")
	}
	key := fmt.Sprintf("%T:%s", err, err.Error())
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if old, ok := registry.sentinels[key]; ok {
		if old == err {
			return nil
		}
		return fmt.Errorf("two sentinel errors of type %T say %q: the worker and the parent could not tell them apart; give them different texts", err, err.Error())
	}
	if registry.sentinels == nil {
		registry.sentinels = make(map[string]error)
	}
	registry.sentinels[key] = err
	registry.order = append(registry.order, key)
	return nil
}

// RegisterType registers t, a named error type or a pointer to one.
func RegisterType(t reflect.Type) error {
	key, err := typeKey(t)
	if err != nil {
		return err
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, ok := registry.types[key]; ok {
		return nil
	}
	if registry.types == nil {
		registry.types = make(map[string]reflect.Type)
	}
	registry.types[key] = t
	registry.order = append(registry.order, key)
	return nil
}

func typeKey(t reflect.Type) (string, error) {
	named := t
	if t.Kind() == reflect.Pointer {
		named = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Interface:
		return "", fmt.Errorf("%v is an interface: register the concrete error type, which errors.As looks for", t)
	case named.Name() == "" || named.PkgPath() == "":
		return "", fmt.Errorf("%v is not a named type: register a defined error type, or a pointer to one", t)
	}
	key := named.PkgPath() + "." + named.Name()
	if t != named {
		key = "*" + key
	}
	return key, nil
}

// Matches returns the registered errors that err matches, for the wire:
// each sentinel errors.Is finds in it, and the first value of each type
// errors.As finds, gob-encoded. A value gob cannot encode is sent without
// its fields.
func Matches(err error) []wire.Match {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	var ms []wire.Match
	for _, key := range registry.order {
		if s, ok := registry.sentinels[key]; ok {
			if errors.Is(err, s) {
				ms = append(ms, wire.Match{Key: key})
			}
			continue
		}
		target := reflect.New(registry.types[key])
		if !errors.As(err, target.Interface()) {
			continue
		}
		var b bytes.Buffer
		if gob.NewEncoder(&b).EncodeValue(target.Elem()) != nil {
			b.Reset()
		}
		ms = append(ms, wire.Match{Key: key, Value: b.Bytes()})
	}
	return ms
}

// Rebuild returns the errors ms name, as this process registered them: the
// sentinels themselves, and the typed values decoded. A key this process
// does not know is left out.
func Rebuild(ms []wire.Match) []error {
	if len(ms) == 0 {
		return nil
	}
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	errs := make([]error, 0, len(ms))
	for _, m := range ms {
		if s, ok := registry.sentinels[m.Key]; ok {
			errs = append(errs, s)
			continue
		}
		t, ok := registry.types[m.Key]
		if !ok {
			continue
		}
		v := reflect.New(t)
		if len(m.Value) == 0 || gob.NewDecoder(bytes.NewReader(m.Value)).DecodeValue(v) != nil {
			v = reflect.New(t) // its zero value, as gob could not carry it
			if t.Kind() == reflect.Pointer {
				v.Elem().Set(reflect.New(t.Elem()))
			}
		}
		if e, ok := v.Elem().Interface().(error); ok {
			errs = append(errs, e)
		}
	}
	return errs
}
