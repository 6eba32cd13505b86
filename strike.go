package localtasks

import (
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Operator compares a field of a task's argument with a Strike's value.
type Operator string

// The operators.
const (
	Equal        Operator = "=="
	NotEqual     Operator = "!="
	Less         Operator = "<"
	LessEqual    Operator = "<="
	Greater      Operator = ">"
	GreaterEqual Operator = ">="
	// Between matches Value <= field <= Upper.
	Between Operator = "between"
)

var operators = []Operator{Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, Between}

// Strike blocks runs of a task, as Docket's strike does: all of them, or
// those whose argument's Field compares with Value by Op. A struck run is
// not queued by Enqueue (the disposition Struck), and one already queued or
// scheduled ends CANCELLED, with the strike as its reason, when it would
// start. Restore lifts a strike; it does not revive what was dropped.
//
// Field names an exported field of the task's argument type (dots between
// nested fields) of a number, string, bool or time.Time type; Value (and
// Upper, for Between) must convert to that type without loss (a string in
// RFC 3339 converts to a time.Time). For a Strike on the whole
// task, leave Field, Op and Value empty.
type Strike struct {
	Task  string
	Field string
	Op    Operator
	Value any
	Upper any // Between's upper bound
}

// String describes the strike, as in `reports.build where Shop == "acme"`.
func (st Strike) String() string {
	switch {
	case st.Field == "":
		return st.Task
	case st.Op == Between:
		return fmt.Sprintf("%s where %s between %#v and %#v", st.Task, st.Field, st.Value, st.Upper)
	}
	return fmt.Sprintf("%s where %s %s %#v", st.Task, st.Field, st.Op, st.Value)
}

// strikeRule is a Strike checked against the task's argument type.
type strikeRule struct {
	Strike
	idx    []int
	lo, hi reflect.Value // Value and Upper converted to the field's type
}

// compileStrike checks st and readies it for matching.
func compileStrike(st Strike) (*strikeRule, error) {
	bad := func(format string, args ...any) (*strikeRule, error) {
		return nil, fmt.Errorf("localtasks: strike %s: "+format+": %w", append([]any{st}, append(args, ErrInvalidTask)...)...)
	}
	if st.Task == "" {
		return bad("no task named: set Task to the name of the task to strike")
	}
	def, ok := Lookup(st.Task)
	if !ok {
		return bad("no task %q is defined: use the name a task was defined under (Names lists them)", st.Task)
	}
	r := &strikeRule{Strike: st}
	if st.Field == "" {
		if st.Op != "" || st.Value != nil || st.Upper != nil {
			return bad("an operator or value without a field: set Field, or leave Op and Value empty to strike the whole task")
		}
		return r, nil
	}
	if !slices.Contains(operators, st.Op) {
		return bad("unknown operator %q: use one of ==, !=, <, <=, >, >=, between", st.Op)
	}
	idx, ft, err := fieldPath(def.ArgsType(), st.Field)
	if err != nil {
		return bad("%v", err)
	}
	r.idx = idx
	ordered := isOrdered(ft)
	if !ordered && ft.Kind() != reflect.Bool {
		return bad("field %s is a %v: strikes compare numbers, strings, bools and times", st.Field, ft)
	}
	if !ordered && st.Op != Equal && st.Op != NotEqual {
		return bad("field %s is a %v, which has no order: use == or !=", st.Field, ft)
	}
	if r.lo, err = convertTo(st.Value, ft); err != nil {
		return bad("value: %v", err)
	}
	if st.Op == Between {
		if r.hi, err = convertTo(st.Upper, ft); err != nil {
			return bad("upper bound: %v", err)
		}
		if compare(r.lo, r.hi) > 0 {
			return bad("the lower bound %#v is above the upper bound %#v: give them in order", st.Value, st.Upper)
		}
	} else if st.Upper != nil {
		return bad("an upper bound is only for between")
	}
	return r, nil
}

var timeType = reflect.TypeFor[time.Time]()

func isOrdered(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return t == timeType
}

// convertTo converts v to t without losing anything: 42 to an int64 field,
// 2.0 to an int field, but not 2.5, nor 300 to a uint8.
func convertTo(v any, t reflect.Type) (reflect.Value, error) {
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
	return b.Convert(a.Type()).Equal(a) && signOf(a) == signOf(b)
}

func signOf(v reflect.Value) int {
	switch {
	case v.CanInt():
		return cmpInt(v.Int(), 0)
	case v.CanUint():
		if v.Uint() == 0 {
			return 0
		}
		return 1
	case v.CanFloat():
		f := v.Float()
		switch {
		case f < 0:
			return -1
		case f > 0:
			return 1
		}
	}
	return 0
}

func cmpInt[T int64 | uint64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare orders two values of one type that isOrdered or is a bool.
func compare(a, b reflect.Value) int {
	switch {
	case a.CanInt():
		return cmpInt(a.Int(), b.Int())
	case a.CanUint():
		return cmpInt(a.Uint(), b.Uint())
	case a.CanFloat():
		return cmpInt(a.Float(), b.Float())
	case a.Kind() == reflect.String:
		return cmpInt(a.String(), b.String())
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

// matches reports whether the rule strikes a run of def with args.
func (r *strikeRule) matches(def Definition, args any) bool {
	if r.Task != def.Name() {
		return false
	}
	if r.idx == nil {
		return true
	}
	f, ok := fieldOf(args, r.idx)
	if !ok {
		return false
	}
	c := compare(f, r.lo)
	switch r.Op {
	case Equal:
		return c == 0
	case NotEqual:
		return c != 0
	case Less:
		return c < 0
	case LessEqual:
		return c <= 0
	case Greater:
		return c > 0
	case GreaterEqual:
		return c >= 0
	case Between:
		return c >= 0 && compare(f, r.hi) <= 0
	}
	return false
}

// same reports whether r and o strike the same runs by the same rule.
func (r *strikeRule) same(o *strikeRule) bool {
	if r.Task != o.Task || r.Field != o.Field || r.Op != o.Op {
		return false
	}
	eq := func(a, b reflect.Value) bool {
		return a.IsValid() == b.IsValid() && (!a.IsValid() || compare(a, b) == 0)
	}
	return eq(r.lo, o.lo) && eq(r.hi, o.hi)
}

// strike adds a strike; see holder.Strike.
func (s *state) strike(st Strike) error {
	r, err := compileStrike(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.strikes {
		if o.same(r) {
			return nil
		}
	}
	s.strikes = append(s.strikes, r)
	return nil
}

// restore lifts a strike; see holder.Restore.
func (s *state) restore(st Strike) error {
	r, err := compileStrike(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.strikes {
		if o.same(r) {
			s.strikes = slices.Delete(s.strikes, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("localtasks: restore %s: no such strike is in force on backend %q: Strikes lists those that are: %w", st, s.name, ErrInvalidTask)
}

// struck returns the strike that matches a run of def with args, or nil.
// Must hold s.mu.
func (s *state) struck(def Definition, args any) *strikeRule {
	for _, r := range s.strikes {
		if r.matches(def, args) {
			return r
		}
	}
	return nil
}

func (s *state) listStrikes() []Strike {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Strike, len(s.strikes))
	for i, r := range s.strikes {
		out[i] = r.Strike
	}
	return out
}
