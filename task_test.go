package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

func nop(ctx context.Context, n int) (int, error) { return n, nil }

func TestDefinePanicsOnEmptyName(t *testing.T) {
	t.Parallel()
	var v any
	func() {
		defer func() { v = recover() }()
		localtasks.Define("", nop)
	}()
	err, ok := v.(error)
	require.True(t, ok, "Define panics with an error, got %v", v)
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.Regexp(t, `empty name.*task_test\.go:\d+|task_test\.go:\d+.*empty name`, err.Error(), "names the place")
}

// duplicated is defined once here; TestDefineDuplicateNamesBothPlaces
// defines its name again.
var duplicated = localtasks.Define("test.duplicate", nop) // first place

func TestDefineDuplicateNamesBothPlaces(t *testing.T) {
	t.Parallel()
	var msg string
	func() {
		defer func() { msg = fmt.Sprint(recover()) }()
		localtasks.Define("test.duplicate", nop) // second place
	}()
	places := regexp.MustCompile(`task_test\.go:\d+`).FindAllString(msg, -1)
	require.Len(t, places, 2, "the panic names both places: %s", msg)
	require.NotEqual(t, places[0], places[1])

	_, err := localtasks.NewTask("test.duplicate", nop)
	require.ErrorIs(t, err, localtasks.ErrInvalidTask, "NewTask returns the error instead")
	require.Contains(t, err.Error(), "defined twice")
}

func TestNewTaskRejects(t *testing.T) {
	t.Parallel()
	_, err := localtasks.NewTask[int, int]("test.nilfunc", nil)
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.Contains(t, err.Error(), "nil function")
	_, err = localtasks.NewTask("test.badprio", nop, localtasks.WithPriority(101))
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.Contains(t, err.Error(), "priority 101")
	_, ok := localtasks.Lookup("test.badprio")
	require.False(t, ok, "a rejected task is not registered")
	require.Panics(t, func() { localtasks.Define("test.badtimeout", nop, localtasks.WithTimeout(-1)) })
}

var withDefaults = localtasks.Define("test.defaults", nop,
	localtasks.WithPriority(5), localtasks.WithQueue("reports"), localtasks.WithTimeout(time.Minute),
	localtasks.WithRetry(localtasks.ExponentialRetry(4, time.Second, time.Minute)))

func TestDefaultsAndUsing(t *testing.T) {
	t.Parallel()
	task := withDefaults
	def, ok := localtasks.Lookup("test.defaults")
	require.True(t, ok)
	require.Equal(t, task.Definition(), def)
	require.Contains(t, localtasks.Names(), "test.defaults")
	require.Equal(t, 5, task.Options().Priority)
	require.Equal(t, "reports", def.Options().Queue)

	at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	c := task.Using(localtasks.WithPriority(-3), localtasks.WithRunAt(at))
	require.Equal(t, -3, c.Options().Priority)
	require.Equal(t, at, c.Options().RunAt)
	require.Equal(t, "reports", c.Options().Queue, "what Using does not touch keeps the default")
	require.Equal(t, 5, task.Options().Priority, "the original is unchanged")
	require.True(t, task.Options().RunAt.IsZero())
	d := c.Using(localtasks.WithDelay(time.Second))
	require.True(t, d.Options().RunAt.IsZero(), "WithDelay clears RunAt")
	require.Equal(t, time.Second, d.Options().Delay)
	require.Equal(t, at, c.Options().RunAt)
	require.Equal(t, c.Name(), task.Name())
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	for s := localtasks.StatusScheduled; s <= localtasks.StatusCancelled; s++ {
		t.Run(s.String()+" round trip", func(t *testing.T) {
			t.Parallel()
			b, err := s.MarshalText()
			require.NoError(t, err)
			var back localtasks.Status
			require.NoError(t, back.UnmarshalText(b))
			require.Equal(t, s, back)
		})
	}
	require.Equal(t, "UNKNOWN", localtasks.Status(0).String())
	var s localtasks.Status
	require.NoError(t, s.UnmarshalText([]byte("successful")))
	require.Equal(t, localtasks.StatusSuccessful, s)
	require.ErrorContains(t, s.UnmarshalText([]byte("DONE")), "use one of")
	require.True(t, localtasks.StatusFailed.Finished())
	require.False(t, localtasks.StatusRunning.Finished())
}

func TestValueOfUnfinished(t *testing.T) {
	t.Parallel()
	_, err := localtasks.Value[int](localtasks.TaskResult{ID: "x", Task: "t", Status: localtasks.StatusRunning})
	require.ErrorContains(t, err, "has not finished")
}

// Value of another type than the run's value says which two, with an
// error of its own: the run is nobody else's.
func TestValueOfAnotherType(t *testing.T) {
	t.Parallel()
	_, err := localtasks.Value[int](localtasks.TaskResult{ID: "x", Task: "t", Status: localtasks.StatusSuccessful, Value: "str"})
	require.ErrorIs(t, err, localtasks.ErrValueType)
	require.NotErrorIs(t, err, localtasks.ErrResultMismatch, "it does not say the run belongs to another task")
	require.ErrorContains(t, err, "returned a string, not the int asked for")
	_, err = localtasks.Value[fmt.Stringer](localtasks.TaskResult{Status: localtasks.StatusSuccessful, Value: 3})
	require.ErrorIs(t, err, localtasks.ErrValueType)
	require.ErrorContains(t, err, "int, not the fmt.Stringer")
}

func TestImmediateRunsInline(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewImmediate(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	log := &orderLog{}
	r, err := b.Enqueue(ctx, note.Definition(), noteArgs{n: 9, log: log}, localtasks.Options{})
	require.NoError(t, err)
	res, err := b.GetResult(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status, "finished before Enqueue returned")
	require.Equal(t, 9, res.Value)
	require.Equal(t, []int{9}, log.get())
	require.False(t, b.Capabilities().Defer)
}

func TestRecordingRecordsInOrder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewRecording(localtasks.Config{})
	require.NoError(t, err)
	defer b.Close(ctx)
	log := &orderLog{}
	for i := range 3 {
		_, err := note.Using(localtasks.WithPriority(i)).Enqueue(ctx, b, noteArgs{n: i, log: log})
		require.NoError(t, err)
	}
	rec := b.Recorded()
	require.Len(t, rec, 3)
	for i, r := range rec {
		require.Equal(t, i, r.Args.(noteArgs).n)
		require.Equal(t, i, r.Priority)
		require.Equal(t, localtasks.StatusReady, r.Status)
	}
	require.Empty(t, log.get(), "nothing ran")
	b.Clear()
	require.Empty(t, b.Recorded())
	_, err = b.GetResult(ctx, rec[0].ID)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "Clear forgets the runs")
}

var errOutOfStock = errors.New("out of stock")

var failing = localtasks.Define("test.failing", func(ctx context.Context, panicking bool) (int, error) {
	if panicking {
		panic(fmt.Errorf("wrapped: %w", errOutOfStock))
	}
	return 0, fmt.Errorf("order 7: %w", errOutOfStock)
})

// In this process a failed run's error keeps the task's own error, for
// errors.Is and errors.As, whether it was returned or panicked with.
func TestFailedRunUnwrapsToTaskError(t *testing.T) {
	t.Parallel()
	b := newPool(t, localtasks.ThreadPoolConfig{})
	for _, c := range []struct {
		name      string
		panicking bool
	}{
		{"returned", false},
		{"panicked with", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// The ctx's 30 s start once the subtest runs: a parallel
			// subtest may wait that long for its turn in a loaded run.
			ctx := testCtx(t)
			panicking := c.panicking
			h, err := failing.Enqueue(ctx, b, panicking)
			require.NoError(t, err)
			_, err = h.Wait(ctx)
			require.ErrorIs(t, err, errOutOfStock, "panicking=%v", panicking)
			var te *localtasks.TaskError
			require.ErrorAs(t, err, &te)
			require.Equal(t, panicking, te.Stack != "")
			require.Equal(t, "*fmt.wrapError", te.Type)
		})
	}
}
