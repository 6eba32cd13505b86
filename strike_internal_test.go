package localtasks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// strikeArgs has a field of every kind a strike compares; the limits
// tests' tasks take it too.
type strikeArgs struct {
	ID       int64
	Small    uint8
	Score    float64
	Name     string
	Active   bool
	At       time.Time
	Wait     time.Duration
	Customer *strikeCustomer
	Tags     []string
}

type strikeCustomer struct{ Region string }

var internalStrikeTask = Define("internal.strike", func(ctx context.Context, a strikeArgs) (int, error) { return 0, nil })

func TestStrikeMatching(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	args := strikeArgs{ID: 42, Small: 7, Score: 2.5, Name: "acme", Active: true, At: at, Wait: time.Minute,
		Customer: &strikeCustomer{Region: "eu"}}
	name := internalStrikeTask.Name()
	cases := []struct {
		st   Strike
		want bool
	}{
		{Strike{Task: name}, true},
		{Strike{Task: name, Field: "ID", Op: OpEqual, Value: 42}, true},
		{Strike{Task: name, Field: "ID", Op: OpEqual, Value: int64(41)}, false},
		{Strike{Task: name, Field: "ID", Op: OpNotEqual, Value: 41}, true},
		{Strike{Task: name, Field: "ID", Op: OpLess, Value: 42}, false},
		{Strike{Task: name, Field: "ID", Op: OpLessEqual, Value: 42}, true},
		{Strike{Task: name, Field: "ID", Op: OpGreater, Value: 41.0}, true},
		{Strike{Task: name, Field: "ID", Op: OpGreaterEqual, Value: uint(43)}, false},
		{Strike{Task: name, Field: "ID", Op: OpBetween, Value: 40, Upper: 42}, true},
		{Strike{Task: name, Field: "ID", Op: OpBetween, Value: 43, Upper: 50}, false},
		{Strike{Task: name, Field: "Small", Op: OpLess, Value: 8}, true},
		{Strike{Task: name, Field: "Score", Op: OpGreater, Value: 2}, true},
		{Strike{Task: name, Field: "Score", Op: OpLess, Value: 2.5}, false},
		{Strike{Task: name, Field: "Name", Op: OpEqual, Value: "acme"}, true},
		{Strike{Task: name, Field: "Name", Op: OpGreater, Value: "b"}, false},
		{Strike{Task: name, Field: "Active", Op: OpEqual, Value: true}, true},
		{Strike{Task: name, Field: "Active", Op: OpNotEqual, Value: true}, false},
		{Strike{Task: name, Field: "At", Op: OpGreaterEqual, Value: at}, true},
		{Strike{Task: name, Field: "At", Op: OpLess, Value: at}, false},
		{Strike{Task: name, Field: "At", Op: OpEqual, Value: "2030-01-01T00:00:00Z"}, true},
		{Strike{Task: name, Field: "Wait", Op: OpGreater, Value: time.Second}, true},
		{Strike{Task: name, Field: "Customer.Region", Op: OpEqual, Value: "eu"}, true},
	}
	def := internalStrikeTask.Definition()
	for _, c := range cases {
		t.Run(strikeCaseName(c.st, c.want), func(t *testing.T) {
			t.Parallel()
			r, err := compileStrike(c.st)
			require.NoError(t, err, "%v", c.st)
			require.Equal(t, c.want, r.matches(def, args), "%v", c.st)
		})
	}
	r, err := compileStrike(Strike{Task: name, Field: "Customer.Region", Op: OpEqual, Value: "eu"})
	require.NoError(t, err)
	require.False(t, r.matches(def, strikeArgs{}), "a nil pointer on the way matches nothing")
	require.False(t, r.matches(internalLimited.Definition(), args), "another task's runs")
}

// strikeCaseName names a case of TestStrikeMatching after its strike and
// whether it matches.
func strikeCaseName(st Strike, matches bool) string {
	verdict := "matches"
	if !matches {
		verdict = "does not match"
	}
	switch {
	case st.Field == "":
		return "the whole task " + verdict
	case st.Op == OpBetween:
		return fmt.Sprintf("%s between %v and %v (%T) %s", st.Field, st.Value, st.Upper, st.Value, verdict)
	}
	return fmt.Sprintf("%s %s %v (%T) %s", st.Field, st.Op, st.Value, st.Value, verdict)
}

func TestStrikeErrors(t *testing.T) {
	t.Parallel()
	name := internalStrikeTask.Name()
	cases := []struct {
		name string
		st   Strike
		want string
	}{
		{"unknown operator", Strike{Task: name, Field: "ID", Op: "~", Value: 1}, "unknown operator"},
		{"unknown field", Strike{Task: name, Field: "Nope", Op: OpEqual, Value: 1}, `no exported field "Nope"`},
		{"unknown nested field", Strike{Task: name, Field: "Customer.Nope", Op: OpEqual, Value: 1}, `no exported field "Nope"`},
		{"fraction for an int64", Strike{Task: name, Field: "ID", Op: OpEqual, Value: 2.5}, "does not fit"},
		{"300 for a uint8", Strike{Task: name, Field: "Small", Op: OpEqual, Value: 300}, "does not fit"},
		{"negative for a uint8", Strike{Task: name, Field: "Small", Op: OpEqual, Value: -1}, "does not fit"},
		{"string for an int64", Strike{Task: name, Field: "ID", Op: OpEqual, Value: "42"}, "does not compare"},
		{"int for a string", Strike{Task: name, Field: "Name", Op: OpEqual, Value: 42}, "does not compare"},
		{"order of a bool", Strike{Task: name, Field: "Active", Op: OpLess, Value: true}, "no order"},
		{"slice field", Strike{Task: name, Field: "Tags", Op: OpEqual, Value: "x"}, "strikes compare"},
		{"no value", Strike{Task: name, Field: "ID", Op: OpEqual}, "missing"},
		{"time not in RFC 3339", Strike{Task: name, Field: "At", Op: OpEqual, Value: "yesterday"}, "RFC 3339"},
		{"between without an upper bound", Strike{Task: name, Field: "ID", Op: OpBetween, Value: 1}, "upper bound"},
		{"upper bound without between", Strike{Task: name, Field: "ID", Op: OpEqual, Value: 1, Upper: 2}, "only for between"},
		{"operator without a field", Strike{Task: name, Op: OpEqual, Value: 1}, "without a field"},
		{"undefined task", Strike{Task: "internal.undefined"}, "no task"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileStrike(c.st)
			require.ErrorIs(t, err, ErrInvalidTask, "%v", c.st)
			require.ErrorContains(t, err, c.want, "%v", c.st)
		})
	}
}

// FuzzStrike compiles strikes from arbitrary fields, operators and values
// against a task with fields of every kind, and matches what compiles: no
// input may panic, and a strike that compiles matches the same way twice.
func FuzzStrike(f *testing.F) {
	f.Add("ID", "==", int64(42), "", 2.5, uint8(0))
	f.Add("Customer.Region", "between", int64(0), "eu", 0.0, uint8(1))
	f.Add("Score", "<", int64(-1), "", 1e300, uint8(2))
	f.Add("Small", ">=", int64(300), "x", 0.0, uint8(0))
	f.Add("At", "!=", int64(0), "", 0.0, uint8(3))
	f.Add("", "", int64(0), "", 0.0, uint8(4))
	def := internalStrikeTask.Definition()
	f.Fuzz(func(t *testing.T, field, op string, n int64, s string, x float64, pick uint8) {
		values := []any{n, s, x, pick%2 == 0, time.Unix(n, 0), nil}
		st := Strike{Task: internalStrikeTask.Name(), Field: field, Op: Operator(op),
			Value: values[int(pick)%len(values)], Upper: values[int(pick/8)%len(values)]}
		r, err := compileStrike(st)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidTask)
			return
		}
		args := strikeArgs{ID: n, Small: pick, Score: x, Name: s, Active: pick%3 == 0, At: time.Unix(n, 0),
			Customer: &strikeCustomer{Region: s}}
		require.Equal(t, r.matches(def, args), r.matches(def, args))
		require.False(t, r.matches(internalLimited.Definition(), args), "a strike matches its own task only")
		_ = st.String()
	})
}

// strikeOtherArgs shares ID with strikeArgs, as an int32, and Name, as an
// int: a strike on every task compares with each as its type allows.
type strikeOtherArgs struct {
	ID   int32
	Name int
}

var internalStrikeOther = Define("internal.strike-other", func(ctx context.Context, a strikeOtherArgs) (int, error) { return 0, nil })

func TestStrikeOnEveryTask(t *testing.T) {
	t.Parallel()
	def, other, none := internalStrikeTask.Definition(), internalStrikeOther.Definition(), internalPIDless.Definition()
	byID, err := compileStrike(Strike{Field: "ID", Op: OpEqual, Value: 42})
	require.NoError(t, err)
	require.Equal(t, "any task where ID == 42", byID.String())
	require.True(t, byID.matches(def, strikeArgs{ID: 42}))
	require.False(t, byID.matches(def, strikeArgs{ID: 41}))
	require.True(t, byID.matches(other, strikeOtherArgs{ID: 42}), "an int32 field compares with 42 too")
	require.False(t, byID.matches(none, struct{}{}), "a task without the field is untouched")
	require.False(t, byID.matches(missingTask{"internal.gone"}, nil), "nor is a task this program lacks")

	byName, err := compileStrike(Strike{Field: "Name", Op: OpEqual, Value: "acme"})
	require.NoError(t, err)
	require.True(t, byName.matches(def, strikeArgs{Name: "acme"}))
	require.False(t, byName.matches(other, strikeOtherArgs{Name: 7}), "an int field does not compare with a string: untouched")

	big, err := compileStrike(Strike{Field: "ID", Op: OpGreater, Value: 3_000_000_000})
	require.NoError(t, err)
	require.True(t, big.matches(def, strikeArgs{ID: 3_000_000_001}))
	require.False(t, big.matches(other, strikeOtherArgs{ID: 1 << 30}), "a value that does not fit an int32 leaves that task alone")

	// Restore finds it by the values as each task's field has them.
	same, err := compileStrike(Strike{Field: "ID", Op: OpEqual, Value: 42.0})
	require.NoError(t, err)
	require.True(t, byID.same(same))
	differ, err := compileStrike(Strike{Field: "ID", Op: OpEqual, Value: 43})
	require.NoError(t, err)
	require.False(t, byID.same(differ))
	onTask, err := compileStrike(Strike{Task: def.Name(), Field: "ID", Op: OpEqual, Value: 42})
	require.NoError(t, err)
	require.False(t, byID.same(onTask), "a strike on one task is another strike")
	require.False(t, onTask.same(byID))
}

func TestStrikeOnEveryTaskErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		st   Strike
		want string
	}{
		{"neither task nor field", Strike{}, "neither a task nor a field"},
		{"an operator without task or field", Strike{Op: OpEqual, Value: 1}, "neither a task nor a field"},
		{"no task has the field", Strike{Field: "NoTaskHasThis", Op: OpEqual, Value: 1}, "no task defined has a field"},
		{"no task's field takes the value", Strike{Field: "Customer.Region", Op: OpEqual, Value: 1}, "no task defined has a field"},
		{"unknown operator", Strike{Field: "ID", Op: "~", Value: 1}, "unknown operator"},
		{"no value", Strike{Field: "ID", Op: OpEqual}, "no value"},
		{"between without an upper bound", Strike{Field: "ID", Op: OpBetween, Value: 1}, "no upper bound"},
		{"upper bound without between", Strike{Field: "ID", Op: OpEqual, Value: 1, Upper: 2}, "only for between"},
		{"bounds reversed", Strike{Field: "ID", Op: OpBetween, Value: 5, Upper: 1}, "above the upper bound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileStrike(c.st)
			require.ErrorIs(t, err, ErrInvalidTask, "%v", c.st)
			require.ErrorContains(t, err, c.want, "%v", c.st)
		})
	}
}

// A strike on every task looks a task's field up once: matching a run
// then allocates nothing, as for a strike on one task.
func TestStrikeOnEveryTaskCost(t *testing.T) {
	r, err := compileStrike(Strike{Field: "Name", Op: OpEqual, Value: "acme"})
	require.NoError(t, err)
	def := internalStrikeTask.Definition()
	var args any = strikeArgs{Name: "globex"}
	require.Zero(t, testing.AllocsPerRun(100, func() { r.matches(def, args) }))
	// A name of its own each time, as -count may run the test again.
	lateTask, err := NewTask(fmt.Sprintf("internal.strike-late-%d", len(Names())), func(ctx context.Context, a strikeArgs) (int, error) { return 0, nil })
	require.NoError(t, err)
	late := lateTask.Definition()
	require.True(t, r.matches(late, strikeArgs{Name: "acme"}), "a task defined after the strike is matched too")
	_, cached := r.fits.Load(late)
	require.True(t, cached, "its field is looked up once")
}
