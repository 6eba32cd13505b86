package localtasks

import (
	"fmt"
	"reflect"
	"slices"
	"sync"

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
//
// A Strike without a Task, as Docket's strike(None, field, ...), is on
// every task: it matches the runs of each task whose argument has Field, of
// a type that Value (and Upper) convert to as above, and leaves the other
// tasks alone. At least one task defined when it is given must have such a
// field, or it is an error; tasks defined later are matched too. A Strike
// with neither Task nor Field is an error: it would strike everything.
type Strike struct {
	Task  string
	Field string
	Op    Operator
	Value any
	Upper any // OpBetween's upper bound
}

// String describes the strike, as in `reports.build where Shop == "acme"`,
// or `any task where Shop == "acme"` for a strike without a task.
func (st Strike) String() string {
	task := st.Task
	if task == "" {
		task = anyTask
	}
	switch {
	case st.Field == "":
		return task
	case st.Op == OpBetween:
		return fmt.Sprintf("%s where %s between %#v and %#v", task, st.Field, st.Value, st.Upper)
	}
	return fmt.Sprintf("%s where %s %s %#v", task, st.Field, st.Op, st.Value)
}

// anyTask stands for the task in the description of a strike without one.
const anyTask = "any task"

// strikeRule is a Strike checked against the task's argument type.
type strikeRule struct {
	Strike
	fit  fieldFit // a strike on one task: its field
	fits sync.Map // a strike without a task: Definition → *fieldFit, nil for a task without the field
	jkey string   // its key in the journal, if the state has one
}

// fieldFit is a strike's field in one task's argument type.
type fieldFit struct {
	idx    []int         // nil for a strike on the whole task
	lo, hi reflect.Value // Value and Upper converted to the field's type
}

// compileStrike checks st and readies it for matching.
func compileStrike(st Strike) (*strikeRule, error) {
	bad := func(format string, args ...any) (*strikeRule, error) {
		return nil, fmt.Errorf("localtasks: strike %s: "+format+": %w", append([]any{st}, append(args, ErrInvalidTask)...)...)
	}
	r := &strikeRule{Strike: st}
	if st.Task == "" {
		return r.compileAny(bad)
	}
	def, ok := Lookup(st.Task)
	if !ok {
		return bad("no task %q is defined: use the name a task was defined under (Names lists them)", st.Task)
	}
	if st.Field == "" {
		if st.Op != "" || st.Value != nil || st.Upper != nil {
			return bad("an operator or value without a field: set Field, or leave Op and Value empty to strike the whole task")
		}
		return r, nil
	}
	if !slices.Contains(operators, st.Op) {
		return bad("unknown operator %q: use one of ==, !=, <, <=, >, >=, between", st.Op)
	}
	if st.Op != OpBetween && st.Upper != nil {
		return bad("an upper bound is only for between")
	}
	f, err := fitField(def.ArgsType(), st)
	if err != nil {
		return bad("%v", err)
	}
	r.fit = *f
	return r, nil
}

// compileAny readies a strike without a task: it checks it against every
// task defined now, and keeps what it found for matching.
func (r *strikeRule) compileAny(bad func(string, ...any) (*strikeRule, error)) (*strikeRule, error) {
	st := r.Strike
	switch {
	case st.Field == "":
		return bad("neither a task nor a field: set Task to strike a task, or Field, Op and Value to strike the runs of every task whose argument has that field")
	case !slices.Contains(operators, st.Op):
		return bad("unknown operator %q: use one of ==, !=, <, <=, >, >=, between", st.Op)
	case st.Value == nil:
		return bad("no value: give the value the field is compared with")
	case st.Op == OpBetween && st.Upper == nil:
		return bad("no upper bound: give between's Upper")
	case st.Op != OpBetween && st.Upper != nil:
		return bad("an upper bound is only for between")
	}
	found := false
	for _, name := range Names() {
		def, ok := Lookup(name)
		if !ok {
			continue
		}
		f, err := fitField(def.ArgsType(), st)
		if _, ok := err.(boundsError); ok {
			return bad("in task %q: %v", name, err)
		}
		found = found || f != nil
		r.fits.Store(def, f)
	}
	if !found {
		return bad("no task defined has a field %s that compares with %#v by %s: name a field some task's argument has, with a value of its type", st.Field, st.Value, st.Op)
	}
	return r, nil
}

// boundsError is fitField's error for between's bounds out of order.
type boundsError struct{ lo, hi any }

func (e boundsError) Error() string {
	return fmt.Sprintf("the lower bound %#v is above the upper bound %#v: give them in order", e.lo, e.hi)
}

// fitField finds st's field in the argument type t, and converts st's
// values to its type.
func fitField(t reflect.Type, st Strike) (*fieldFit, error) {
	idx, ft, err := fields.Path(t, st.Field)
	if err != nil {
		return nil, err
	}
	ordered := fields.Ordered(ft)
	if !ordered && ft.Kind() != reflect.Bool {
		return nil, fmt.Errorf("field %s is a %v: strikes compare numbers, strings, bools and times", st.Field, ft)
	}
	if !ordered && st.Op != OpEqual && st.Op != OpNotEqual {
		return nil, fmt.Errorf("field %s is a %v, which has no order: use == or !=", st.Field, ft)
	}
	f := &fieldFit{idx: idx}
	if f.lo, err = fields.Convert(st.Value, ft); err != nil {
		return nil, fmt.Errorf("value: %v", err)
	}
	if st.Op == OpBetween {
		if f.hi, err = fields.Convert(st.Upper, ft); err != nil {
			return nil, fmt.Errorf("upper bound: %v", err)
		}
		if fields.Compare(f.lo, f.hi) > 0 {
			return nil, boundsError{st.Value, st.Upper}
		}
	}
	return f, nil
}

// fitFor returns the field of a strike without a task in def's argument,
// or nil if it has none that compares with the strike's value. It looks
// once a task: later calls cost a map lookup.
func (r *strikeRule) fitFor(def Definition) *fieldFit {
	if v, ok := r.fits.Load(def); ok {
		return v.(*fieldFit)
	}
	f, _ := fitField(def.ArgsType(), r.Strike)
	v, _ := r.fits.LoadOrStore(def, f)
	return v.(*fieldFit)
}

// matches reports whether the rule strikes a run of def with args.
func (r *strikeRule) matches(def Definition, args any) bool {
	fit := &r.fit
	if r.Task == "" {
		if fit = r.fitFor(def); fit == nil {
			return false
		}
	} else if r.Task != def.Name() {
		return false
	}
	if fit.idx == nil {
		return true
	}
	f, ok := fields.Of(args, fit.idx)
	if !ok {
		return false
	}
	c := fields.Compare(f, fit.lo)
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
		return c >= 0 && fields.Compare(f, fit.hi) <= 0
	}
	return false
}

// same reports whether r and o strike the same runs by the same rule.
func (r *strikeRule) same(o *strikeRule) bool {
	if r.Task != o.Task || r.Field != o.Field || r.Op != o.Op {
		return false
	}
	if r.Task != "" {
		return r.fit.same(&o.fit)
	}
	// Without a task, the values are compared as each task's field has
	// them: those of every task r found.
	same := true
	r.fits.Range(func(def, f any) bool {
		g := o.fitFor(def.(Definition))
		same = f.(*fieldFit) == nil && g == nil || f.(*fieldFit) != nil && g != nil && f.(*fieldFit).same(g)
		return same
	})
	return same
}

func (f *fieldFit) same(g *fieldFit) bool {
	eq := func(a, b reflect.Value) bool {
		return a.IsValid() == b.IsValid() && (!a.IsValid() || fields.Compare(a, b) == 0)
	}
	return eq(f.lo, g.lo) && eq(f.hi, g.hi)
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
