//go:build unix

package localtasks_test

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/wire"
)

// Tasks whose types a process pool refuses at Enqueue, before any worker
// sees them, and one of an interface-typed argument.
var (
	funcFieldTask = localtasks.Define("proc.check.funcfield", func(_ context.Context, a withCallback) (int, error) {
		if a.Done == nil {
			return 0, fmt.Errorf("the callback arrived nil")
		}
		a.Done(a.N)
		return a.N, nil
	})
	chanResultTask = localtasks.Define("proc.check.chanresult", func(_ context.Context, n int) (withChan, error) {
		return withChan{N: n}, nil
	})
	deepFuncTask = localtasks.Define("proc.check.deep", func(_ context.Context, o cart) (int, error) {
		return len(o.Items), nil
	})
	shapeTask = localtasks.Define("proc.check.shape", func(_ context.Context, s shapeArgs) (float64, error) {
		return s.Shape.Area(), nil
	})
	// Defined in the parent only: a program that defines a task on a code
	// path its workers do not take (here, by the worker's variable, which
	// Init removes only later) still gets the worker's own error.
	parentOnlyTask = defineInParentOnly()
)

type withCallback struct {
	N    int
	Done func(int)
}

type withChan struct {
	N       int
	Updates chan int
}

type cart struct{ Items []cartItem }

type cartItem struct {
	SKU    string
	Notify map[string]func()
}

type shape interface{ Area() float64 }

type square struct{ Side float64 }

func (s square) Area() float64 { return s.Side * s.Side }

type circle struct{ R float64 } // never registered

func (c circle) Area() float64 { return 3 * c.R * c.R }

type shapeArgs struct{ Shape shape }

func init() { gob.Register(square{}) } // at package level: the workers register it too

func defineInParentOnly() *localtasks.Task[int, int] {
	if _, worker := os.LookupEnv(wire.SpecEnv); worker {
		return nil
	}
	return localtasks.Define("proc.check.parentonly", func(_ context.Context, n int) (int, error) { return n, nil })
}

// A func or chan field, which gob would leave out without a word, is
// refused at Enqueue, naming the field, as is a type gob refuses; nothing
// is queued. A thread pool takes the same tasks: it copies nothing.
func TestProcessPoolRefusesTypesAtEnqueue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	sub := b.Subscribe(16)
	defer sub.Close()

	for _, c := range []struct {
		name    string
		enqueue func() error
		want    []string
	}{
		{"a func field of the argument", func() error {
			_, err := funcFieldTask.Enqueue(ctx, b, withCallback{N: 1, Done: func(int) {}})
			return err
		}, []string{`"proc.check.funcfield"`, "argument type localtasks_test.withCallback", "field withCallback.Done", "func(int)", "would get nil"}},
		{"a chan field of the result", func() error {
			_, err := chanResultTask.Enqueue(ctx, b, 1)
			return err
		}, []string{`"proc.check.chanresult"`, "result type localtasks_test.withChan", "field withChan.Updates"}},
		{"a func deep in the argument", func() error {
			_, err := deepFuncTask.Enqueue(ctx, b, cart{})
			return err
		}, []string{"cart.Items[].Notify[key] is a func()", "cannot send"}},
		{"no exported fields", func() error {
			_, err := hiddenTask.Enqueue(ctx, b, hidden{n: 1})
			return err
		}, []string{"localtasks_test.hidden has no exported fields", "export the fields"}},
	} {
		for i := range 2 { // the second time from the definition's cache
			err := c.enqueue()
			require.ErrorIs(t, err, localtasks.ErrInvalidTask, "%s (%d)", c.name, i)
			for _, w := range c.want {
				require.ErrorContains(t, err, w, "%s (%d)", c.name, i)
			}
			require.ErrorContains(t, err, "thread pool", "it says what else to do")
		}
	}
	select {
	case ev := <-sub.C():
		t.Fatalf("a refused task was queued: %+v", ev)
	default:
	}

	tp := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	called := make(chan int, 1)
	h, err := funcFieldTask.Enqueue(ctx, tp, withCallback{N: 7, Done: func(n int) { called <- n }})
	require.NoError(t, err, "a thread pool passes the value itself")
	n, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.Equal(t, 7, <-called)
}

// An interface-typed field's value crosses if its type is registered with
// gob; if not, Enqueue says to call gob.Register.
func TestProcessPoolInterfaceArguments(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	h, err := shapeTask.Enqueue(ctx, b, shapeArgs{Shape: square{Side: 3}})
	require.NoError(t, err)
	area, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 9.0, area)

	_, err = shapeTask.Enqueue(ctx, b, shapeArgs{Shape: circle{R: 1}})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "localtasks_test.circle")
	require.ErrorContains(t, err, "call gob.Register")
}

// A task defined after Init (in main, or here in a test) is refused by a
// process pool at Enqueue: its workers, which run no more of the program
// than Init, do not know it. A thread pool runs it.
func TestProcessPoolRefusesTaskDefinedAfterInit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	late, err := localtasks.NewTask(fmt.Sprintf("proc.late.%d", time.Now().UnixNano()), func(ctx context.Context, n int) (int, error) {
		return n, nil
	})
	require.NoError(t, err)
	_, err = late.Enqueue(ctx, b, 1)
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.ErrorContains(t, err, "after localtasks.Init() ran")
	require.ErrorContains(t, err, "procpool_check_test.go", "it names where the task was defined")
	require.ErrorContains(t, err, "define it at package level")

	tp := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	h, err := late.Enqueue(ctx, tp, 2)
	require.NoError(t, err)
	n, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// An unnamed process pool is named as such in errors, and kinds are named
// in words.
func TestProcessPoolErrorsNameIt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newProcPool(t, localtasks.ProcessPoolConfig{MaxWorkers: 1})
	_, err := b.GetResult(ctx, "00000000-0000-4000-8000-000000000000")
	require.ErrorContains(t, err, "on the process pool:")

	newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "test.names.kind"}, MaxWorkers: 1})
	_, err = localtasks.NewProcessPool(localtasks.ProcessPoolConfig{Config: localtasks.Config{Name: "test.names.kind"}, MaxWorkers: 1})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.ErrorContains(t, err, "it is a thread pool, this one is a process pool")
	_, err = localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: -1})
	require.ErrorContains(t, err, "localtasks: process pool config: MaxWorkers -1")
}

// A worker that fails to start says what failed; the advice to call Init
// comes only where a missing Init is the likely cause.
func TestProcessPoolStartFailures(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode     string
		want     []string
		initHint bool
	}{
		{"exit", []string{"exited with status 0 without serving"}, true},
		{"failed", []string{"reached localtasks.Init() but could not start serving", "started without the pipes"}, false},
		{"crash", []string{"exited with code 2 before it started serving", "panic: boom in an init function"}, false},
		{"killed", []string{"crashed before it started serving (signal: killed)"}, false},
		{"code", []string{"exited with code 2", "flag provided but not defined"}, false},
		{"oldbinary", []string{"speaks protocol version", "binary was replaced", "restart the program"}, false},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			_, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 1, StartTimeout: 10 * time.Second,
				Env: []string{testWorkerEnv + "=" + c.mode}})
			require.Error(t, err)
			for _, w := range c.want {
				require.ErrorContains(t, err, w)
			}
			if c.initHint {
				require.ErrorContains(t, err, "must call localtasks.Init() as the first statement of main")
			} else {
				require.NotContains(t, err.Error(), "must call localtasks.Init() as the first statement")
			}
		})
	}
}
