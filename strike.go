package localtasks

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/localtasks/localtasks/internal/fields"
)

// Operator compares a field of a task's argument with a Strike's value.
type Operator string

// The operators.
const (
	OpEqual        Operator = "=="
	OpNotEqual     Operator = "!="
	OpLess         Operator = "<"
	OpLessEqual    Operator = "<="
	OpGreater      Operator = ">"
	OpGreaterEqual Operator = ">="
	// OpBetween matches Value <= field <= Upper.
	OpBetween Operator = "between"
)

var operators = []Operator{OpEqual, OpNotEqual, OpLess, OpLessEqual, OpGreater, OpGreaterEqual, OpBetween}

// Strike blocks runs of a task, as Docket's strike does: all of them, or
// those whose argument's Field compares with Value by Op. A struck run is
// not queued by Enqueue (the disposition Struck), and one already queued or
// scheduled ends CANCELLED, with the strike as its reason, when it would
// start. Restore lifts a strike; it does not revive what was dropped.
//
// Field names an exported field of the task's argument type (dots between
// nested fields) of a number, string, bool or time.Time type; Value (and
// Upper, for OpBetween) must convert to that type without loss (a string in
// RFC 3339 converts to a time.Time). For a Strike on the whole
// task, leave Field, Op and Value empty.
type Strike struct {
	Task  string
	Field string
	Op    Operator
	Value any
	Upper any // OpBetween's upper bound
}

// String describes the strike, as in `reports.build where Shop == "acme"`.
func (st Strike) String() string {
	switch {
	case st.Field == "":
		return st.Task
	case st.Op == OpBetween:
		return fmt.Sprintf("%s where %s between %#v and %#v", st.Task, st.Field, st.Value, st.Upper)
	}
	return fmt.Sprintf("%s where %s %s %#v", st.Task, st.Field, st.Op, st.Value)
}

// strikeRule is a Strike checked against the task's argument type.
type strikeRule struct {
	Strike
	idx    []int
	lo, hi reflect.Value // Value and Upper converted to the field's type
	jkey   string        // its key in the journal, if the state has one
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
	idx, ft, err := fields.Path(def.ArgsType(), st.Field)
	if err != nil {
		return bad("%v", err)
	}
	r.idx = idx
	ordered := fields.Ordered(ft)
	if !ordered && ft.Kind() != reflect.Bool {
		return bad("field %s is a %v: strikes compare numbers, strings, bools and times", st.Field, ft)
	}
	if !ordered && st.Op != OpEqual && st.Op != OpNotEqual {
		return bad("field %s is a %v, which has no order: use == or !=", st.Field, ft)
	}
	if r.lo, err = fields.Convert(st.Value, ft); err != nil {
		return bad("value: %v", err)
	}
	if st.Op == OpBetween {
		if r.hi, err = fields.Convert(st.Upper, ft); err != nil {
			return bad("upper bound: %v", err)
		}
		if fields.Compare(r.lo, r.hi) > 0 {
			return bad("the lower bound %#v is above the upper bound %#v: give them in order", st.Value, st.Upper)
		}
	} else if st.Upper != nil {
		return bad("an upper bound is only for between")
	}
	return r, nil
}

// matches reports whether the rule strikes a run of def with args.
func (r *strikeRule) matches(def Definition, args any) bool {
	if r.Task != def.Name() {
		return false
	}
	if r.idx == nil {
		return true
	}
	f, ok := fields.Of(args, r.idx)
	if !ok {
		return false
	}
	c := fields.Compare(f, r.lo)
	switch r.Op {
	case OpEqual:
		return c == 0
	case OpNotEqual:
		return c != 0
	case OpLess:
		return c < 0
	case OpLessEqual:
		return c <= 0
	case OpGreater:
		return c > 0
	case OpGreaterEqual:
		return c >= 0
	case OpBetween:
		return c >= 0 && fields.Compare(f, r.hi) <= 0
	}
	return false
}

// same reports whether r and o strike the same runs by the same rule.
func (r *strikeRule) same(o *strikeRule) bool {
	if r.Task != o.Task || r.Field != o.Field || r.Op != o.Op {
		return false
	}
	eq := func(a, b reflect.Value) bool {
		return a.IsValid() == b.IsValid() && (!a.IsValid() || fields.Compare(a, b) == 0)
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
	s.nstrikes.Store(int32(len(s.strikes)))
	if s.jr != nil {
		r.jkey = st.String()
		s.jr.strike(r.jkey, st, false)
	}
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
			s.nstrikes.Store(int32(len(s.strikes)))
			if s.jr != nil {
				s.jr.strike(o.jkey, st, true)
			}
			return nil
		}
	}
	return fmt.Errorf("localtasks: restore %s: no such strike is in force on %s: Strikes lists those that are: %w", st, s.set.label(), ErrInvalidTask)
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
