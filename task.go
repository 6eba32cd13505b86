package localtasks

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/localtasks/localtasks/internal/gobcodec"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// Func is the function behind a task: it gets its ctx and one argument, and
// returns one result or an error. Use a struct for several arguments.
type Func[A, R any] func(ctx context.Context, args A) (R, error)

// Task is a typed task: a function registered under a stable name, with
// default options. Define it once, at package level:
//
//	var Resize = localtasks.Define("images.resize", resize)
//
// A Task is immutable and safe for concurrent use; Using returns a copy with
// other options.
type Task[A, R any] struct {
	def  *definition[A, R]
	opts Options
}

// definition is what the registry holds for a task: one per name.
type definition[A, R any] struct {
	name     string
	fn       Func[A, R]
	defaults Options
	where    string // file:line of the Define call
	seq      int    // its place in the order of definitions: 1 for the first

	codecOnce sync.Once // checkCodec's work, done once a task
	codecErr  error
}

func (d *definition[A, R]) Name() string             { return d.name }
func (d *definition[A, R]) Options() Options         { return d.defaults }
func (d *definition[A, R]) ArgsType() reflect.Type   { return reflect.TypeFor[A]() }
func (d *definition[A, R]) ResultType() reflect.Type { return reflect.TypeFor[R]() }
func (d *definition[A, R]) definedAt() string        { return d.where }
func (d *definition[A, R]) zeroArgs() any            { var a A; return a }

func (d *definition[A, R]) Call(ctx context.Context, args any) (any, error) {
	a, ok := args.(A)
	if !ok && args != nil {
		return nil, d.argsError(args)
	}
	r, err := d.fn(ctx, a)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (d *definition[A, R]) argsError(args any) error {
	return fmt.Errorf("localtasks: task %q takes arguments of type %v, not %T: %w", d.name, d.ArgsType(), args, ErrInvalidTask)
}

// checkArgs reports whether args can be passed to the task function.
func (d *definition[A, R]) checkArgs(args any) error {
	if _, ok := args.(A); ok {
		return nil
	}
	if args == nil {
		// A nil interface is the zero value of an interface-typed A.
		if t := d.ArgsType(); t.Kind() == reflect.Interface {
			return nil
		}
	}
	return d.argsError(args)
}

// checkCodec reports whether the task's argument and result types can be
// gob-encoded whole, to cross to another process (see gobcodec.Check): a
// *codecError, matching ErrInvalidTask, if not. It checks once a task, the
// first time a process pool (or a journal) asks, and remembers the answer:
// a thread pool never pays for it. Callers add what the encoding is for.
func (d *definition[A, R]) checkCodec() error {
	d.codecOnce.Do(func() {
		for _, c := range []struct {
			what string
			typ  reflect.Type
		}{{"argument", d.ArgsType()}, {"result", d.ResultType()}} {
			if err := gobcodec.Check(c.typ); err != nil {
				d.codecErr = &codecError{task: d.name, where: d.where, what: c.what, typ: c.typ, err: err}
				return
			}
		}
	})
	return d.codecErr
}

// codecError: a task's argument or result type cannot be gob-encoded whole.
type codecError struct {
	task, where, what string // what: "argument" or "result"
	typ               reflect.Type
	err               error // gobcodec.Check's
}

func (e *codecError) Error() string {
	return fmt.Sprintf("localtasks: task %q (defined at %s): its %s type %v cannot be gob-encoded whole: %v", e.task, e.where, e.what, e.typ, e.err)
}

func (e *codecError) Is(target error) bool { return target == ErrInvalidTask }
func (e *codecError) Unwrap() error        { return e.err }

// definedAfterInit reports whether the task was defined after Init ran in
// this process: Init never returns in a worker process, so the workers do
// not know such a task.
func (d *definition[A, R]) definedAfterInit() bool {
	n := initMark.Load()
	return n > 0 && int64(d.seq) > n-1
}

func (d *definition[A, R]) encodeArgs(args any) ([]byte, error) { return gobcodec.Encode[A](args) }
func (d *definition[A, R]) decodeArgs(b []byte) (any, error)    { return gobcodec.Decode[A](b) }
func (d *definition[A, R]) encodeResult(v any) ([]byte, error)  { return gobcodec.Encode[R](v) }
func (d *definition[A, R]) decodeResult(b []byte) (any, error)  { return gobcodec.Decode[R](b) }

// registry maps task names to their definitions, process-wide. The process
// pool finds a task by name through it.
var registry = struct {
	sync.RWMutex
	m   map[string]Definition
	seq int // the definitions made
}{m: make(map[string]Definition)}

// initMark is 1 more than registry.seq was when Init first ran, and 0 until
// then: an atomic, as every Enqueue on a process pool reads it.
var initMark atomic.Int64

// markInit records that Init ran: the tasks defined so far are the ones a
// worker process knows.
func markInit() {
	registry.Lock()
	defer registry.Unlock()
	initMark.CompareAndSwap(0, int64(registry.seq)+1)
}

// Define registers fn as a task under name, with default options, and
// returns the typed Task. Call it once per task, at package level. It panics
// if name is empty or already taken, naming both places of definition, if fn
// is nil, or if an option is invalid; NewTask returns an error instead.
func Define[A, R any](name string, fn Func[A, R], opts ...Option) *Task[A, R] {
	t, err := newTask(name, fn, opts, 2)
	if err != nil {
		panic(err)
	}
	return t
}

// NewTask is Define returning an error instead of panicking, for tasks
// defined at run time from configuration.
func NewTask[A, R any](name string, fn Func[A, R], opts ...Option) (*Task[A, R], error) {
	return newTask(name, fn, opts, 2)
}

func newTask[A, R any](name string, fn Func[A, R], opts []Option, skip int) (*Task[A, R], error) {
	where := "unknown place"
	if _, file, line, ok := runtime.Caller(skip); ok {
		where = fmt.Sprintf("%s:%d", file, line)
	}
	if name == "" {
		return nil, fmt.Errorf("localtasks: task defined at %s has an empty name: give it a stable name such as \"images.resize\": %w", where, ErrInvalidTask)
	}
	if fn == nil {
		return nil, fmt.Errorf("localtasks: task %q defined at %s has a nil function: %w", name, where, ErrInvalidTask)
	}
	d := &definition[A, R]{name: name, fn: fn, where: where}
	for _, o := range opts {
		o(&d.defaults)
	}
	if err := d.defaults.validate(); err != nil {
		return nil, fmt.Errorf("localtasks: task %q defined at %s: %v: %w", name, where, err, ErrInvalidTask)
	}

	registry.Lock()
	defer registry.Unlock()
	if prev, ok := registry.m[name]; ok {
		return nil, fmt.Errorf("localtasks: task name %q is defined twice: first at %s, again at %s: give each task its own name: %w",
			name, prev.definedAt(), where, ErrInvalidTask)
	}
	if err := registerGroups(name, &d.defaults); err != nil {
		return nil, fmt.Errorf("localtasks: task %q defined at %s: %v: %w", name, where, err, ErrInvalidTask)
	}
	registry.seq++
	d.seq = registry.seq
	registry.m[name] = d
	return &Task[A, R]{def: d, opts: d.defaults}, nil
}

// Lookup returns the task registered under name.
func Lookup(name string) (Definition, bool) {
	registry.RLock()
	defer registry.RUnlock()
	d, ok := registry.m[name]
	return d, ok
}

// Names returns the names of all registered tasks, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Name returns the name the task was defined under.
func (t *Task[A, R]) Name() string { return t.def.name }

// Options returns the options the task's runs get: its defaults with the
// overrides of Using applied.
func (t *Task[A, R]) Options() Options { return t.opts }

// Definition returns the task's untyped view, for backends.
func (t *Task[A, R]) Definition() Definition { return t.def }

// Using returns a copy of the task with opts applied over its options, like
// Django's task.using(). The task it is called on is unchanged. Invalid
// options are reported by Enqueue.
func (t *Task[A, R]) Using(opts ...Option) *Task[A, R] {
	c := *t
	for _, o := range opts {
		o(&c.opts)
	}
	return &c
}

// Enqueue queues a run of the task with args on b and returns at once with a
// handle to it. On error nothing was queued. With a key, a strike or a
// limit, the handle's Disposition says whether a run was enqueued; for
// AlreadyEnqueued the handle is the existing run's.
func (t *Task[A, R]) Enqueue(ctx context.Context, b Backend, args A) (Handle[R], error) {
	r, err := b.Enqueue(ctx, t.def, args, t.opts)
	if err != nil {
		return Handle[R]{}, err
	}
	return Handle[R]{id: r.ID, b: b, disp: r.Disposition}, nil
}

// EnqueueMany enqueues a run of the task for each of args, with the task's
// options, and returns one handle for each, in their order. On a backend
// that implements BatchEnqueuer (every backend of this package does) it is
// all or none: if any argument is refused, nothing is queued, and the
// error names its index; the runs are queued in one trip to the backend's
// lock. On another backend it enqueues them one at a time, and stops at the
// first error: it returns the handles of the runs queued before it with
// the error.
func (t *Task[A, R]) EnqueueMany(ctx context.Context, b Backend, args []A) ([]Handle[R], error) {
	hs := make([]Handle[R], 0, len(args))
	be, ok := b.(BatchEnqueuer)
	if !ok {
		for i, a := range args {
			r, err := b.Enqueue(ctx, t.def, a, t.opts)
			if err != nil {
				return hs, fmt.Errorf("localtasks: enqueue many %q: argument %d of %d: %d runs before it were queued, "+
					"one at a time, for the backend has no EnqueueMany (BatchEnqueuer): %w", t.def.name, i, len(args), i, err)
			}
			hs = append(hs, Handle[R]{id: r.ID, b: b, disp: r.Disposition})
		}
		return hs, nil
	}
	as := make([]any, len(args))
	for i := range args {
		as[i] = args[i]
	}
	rs, err := be.EnqueueMany(ctx, t.def, as, t.opts)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		hs = append(hs, Handle[R]{id: r.ID, b: b, disp: r.Disposition})
	}
	return hs, nil
}

// Replace enqueues a run of the task with args under key, in place of the
// queued or scheduled run of the task that holds the key, if any: that run
// ends CANCELLED and never executes, and the new one takes the key, with the
// disposition Replaced. The swap is atomic: no Enqueue of the key sees the
// key free in between. A running run cannot be swapped: it keeps the key,
// and Replace returns its handle with the disposition AlreadyEnqueued.
// Without a run holding the key, Replace is Enqueue with WithKey(key).
func (t *Task[A, R]) Replace(ctx context.Context, b Backend, key string, args A) (Handle[R], error) {
	opts := t.opts
	opts.Key, opts.Replace = key, true
	if key == "" {
		return Handle[R]{}, fmt.Errorf("localtasks: replace %q: the key is empty: give the key of the run to replace: %w", t.def.name, ErrInvalidTask)
	}
	r, err := b.Enqueue(ctx, t.def, args, opts)
	if err != nil {
		return Handle[R]{}, err
	}
	return Handle[R]{id: r.ID, b: b, disp: r.Disposition}, nil
}

// Call runs the task's function with args now, in the caller's goroutine,
// and returns what it returns, like Django's Task.call: no backend, no
// queue, no encoding of args, no middleware, retries, timeout or limits;
// a panic goes up to the caller as from any function call. It is for tests
// of the function itself, and for code that wants its result at once.
//
// The function gets ctx with a task ctx attached, so that what it reads
// from its ctx answers as on a backend: TaskID is a new UUID that no
// backend knows, TaskName the task's name, Attempt 1, and Logger the
// default logger with those attributes. SetProgress and SetMetadata do
// nothing; on a perpetual task StopPerpetual, SetNextRun and SetNextArgs
// succeed and change nothing, for no run follows. ctx's deadline,
// cancellation and values are the function's, and Cause(ctx) is
// context.Cause(ctx).
func (t *Task[A, R]) Call(ctx context.Context, args A) (R, error) {
	d := t.def
	c := taskctx.New(taskctx.Info{ID: uuid.NewString(), Task: d.name, Number: 1, Perpetual: t.opts.Perpetual.enabled()})
	return d.fn(taskctx.Attach(ctx, c), args)
}

// GetResult returns a handle to the run with that ID on b. It fails with an
// error matching ErrResultMismatch if the ID belongs to another task's run,
// and ErrResultNotFound if b does not know it.
func (t *Task[A, R]) GetResult(ctx context.Context, b Backend, id string) (Handle[R], error) {
	res, err := b.GetResult(ctx, id)
	if err != nil {
		return Handle[R]{}, err
	}
	if res.Task != t.def.name {
		return Handle[R]{}, fmt.Errorf("localtasks: result %s is a run of task %q, not %q: fetch it with that task or with Backend.GetResult: %w",
			id, res.Task, t.def.name, ErrResultMismatch)
	}
	return Handle[R]{id: id, b: b}, nil
}

// Handle is a typed reference to one run of a task. It is a small value:
// copy it, store its ID, and make a new one later with Task.GetResult.
type Handle[R any] struct {
	id   string
	b    Backend
	disp Disposition
}

// ID returns the run's ID, a UUID string.
func (h Handle[R]) ID() string { return h.id }

// Disposition says what the Enqueue or Replace that made the handle did;
// zero for a handle from GetResult.
func (h Handle[R]) Disposition() Disposition { return h.disp }

// Status returns the run's current status.
func (h Handle[R]) Status(ctx context.Context) (Status, error) {
	res, err := h.Result(ctx)
	return res.Status, err
}

// Result returns a snapshot of the run, untyped.
func (h Handle[R]) Result(ctx context.Context) (TaskResult, error) {
	if err := h.check(); err != nil {
		return TaskResult{}, err
	}
	return h.b.GetResult(ctx, h.id)
}

// Cancel cancels the run; see Backend.Cancel.
func (h Handle[R]) Cancel(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	return h.b.Cancel(ctx, h.id)
}

func (h Handle[R]) check() error {
	if h.b == nil {
		return fmt.Errorf("localtasks: use of a zero Handle: use the Handle that Enqueue or GetResult returned: %w", ErrResultNotFound)
	}
	return nil
}

// Wait blocks until the run has finished, or ctx ends. It returns the value
// of a SUCCESSFUL run; for a FAILED one, the last attempt's *TaskError; for a
// CANCELLED one, an error matching ErrCancelled.
func (h Handle[R]) Wait(ctx context.Context) (R, error) {
	var zero R
	if err := h.check(); err != nil {
		return zero, err
	}
	res, err := h.b.Wait(ctx, h.id)
	if err != nil {
		return zero, err
	}
	return Value[R](res)
}

// Value returns the typed value of a finished run, or its error as
// Handle.Wait does. A value of another type than R is an error matching
// ErrValueType that names both types.
func Value[R any](res TaskResult) (R, error) {
	var zero R
	switch res.Status {
	case StatusSuccessful:
		if res.Value == nil {
			return zero, nil
		}
		v, ok := res.Value.(R)
		if !ok {
			return zero, fmt.Errorf("localtasks: run %s of task %q returned a %T, not the %v asked for: call Value with the task's result type, %T, "+
				"or read TaskResult.Value: %w", res.ID, res.Task, res.Value, reflect.TypeFor[R](), res.Value, ErrValueType)
		}
		return v, nil
	case StatusFailed:
		if n := len(res.Errors); n > 0 {
			return zero, &res.Errors[n-1]
		}
		return zero, fmt.Errorf("localtasks: run %s of task %q failed", res.ID, res.Task)
	case StatusCancelled:
		return zero, fmt.Errorf("localtasks: run %s of task %q: %s: %w", res.ID, res.Task, res.CancelReason, ErrCancelled)
	default:
		return zero, fmt.Errorf("localtasks: run %s of task %q has not finished: it is %v", res.ID, res.Task, res.Status)
	}
}
