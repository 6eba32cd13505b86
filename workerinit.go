package localtasks

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/localtasks/localtasks/internal/wire"
)

// WorkerInit is a function that each worker process of a process pool runs
// once, after Init and before it takes tasks: Python's ProcessPoolExecutor
// initializer. Use it to open what the worker's tasks share for the life of
// the worker (a database handle, a loaded model, a warmed cache), and keep
// that in a package-level variable: each worker is a process of its own, so
// the variable is the worker's own.
//
// Define it at package level with DefineWorkerInit, so that the worker
// processes, which run no more of main than Init, know it too, and name it
// in ProcessPoolConfig.WorkerInit.
type WorkerInit struct {
	name      string
	fn        func(ctx context.Context) error
	where     string // file:line of the DefineWorkerInit call
	afterInit bool   // defined after Init ran: the workers do not know it
}

// Name returns the name the initialiser was defined under.
func (wi *WorkerInit) Name() string { return wi.name }

// workerInits maps the names of worker initialisers to them, process-wide:
// a worker finds its pool's by the name its spec carries.
var workerInits = struct {
	sync.Mutex
	m map[string]*WorkerInit
}{m: make(map[string]*WorkerInit)}

// DefineWorkerInit registers fn as a worker initialiser under name, and
// returns it for ProcessPoolConfig.WorkerInit. Call it at package level,
// once per name: a worker finds its pool's initialiser by name. It panics
// if name is empty or already taken, or if fn is nil.
//
// Each worker runs fn once with a ctx that is never cancelled, after Init
// and before it reports ready: StartTimeout bounds it with the rest of the
// worker's start. What fn prints reaches the pool's logger as a worker's
// output. If fn returns an error or panics, the worker exits, and
// NewProcessPool fails with a *WorkerInitError carrying the error's
// message (or, for a replacement worker, the pool logs it and tries
// again, as for any worker that fails to start). Workers that
// MaxTasksPerWorker recycles run it again, each in its own process.
func DefineWorkerInit(name string, fn func(ctx context.Context) error) *WorkerInit {
	where := "unknown place"
	if _, file, line, ok := runtime.Caller(1); ok {
		where = fmt.Sprintf("%s:%d", file, line)
	}
	if name == "" {
		panic(fmt.Sprintf("localtasks: the worker initialiser defined at %s has an empty name: give it a stable name such as \"db.open\"", where))
	}
	if fn == nil {
		panic(fmt.Sprintf("localtasks: worker initialiser %q defined at %s has a nil function", name, where))
	}
	workerInits.Lock()
	defer workerInits.Unlock()
	if prev, ok := workerInits.m[name]; ok {
		panic(fmt.Sprintf("localtasks: worker initialiser name %q is defined twice: first at %s, again at %s: give each its own name",
			name, prev.where, where))
	}
	wi := &WorkerInit{name: name, fn: fn, where: where, afterInit: initMark.Load() > 0}
	workerInits.m[name] = wi
	return wi
}

// runWorkerInit runs the worker initialiser registered under name, in a
// worker process.
func runWorkerInit(ctx context.Context, name string) error {
	workerInits.Lock()
	wi := workerInits.m[name]
	workerInits.Unlock()
	if wi == nil {
		return fmt.Errorf("it is not defined in the worker process: define worker initialisers at package level "+
			"(var X = localtasks.DefineWorkerInit(%q, ...)), so that every process of the program defines them before main runs", name)
	}
	return wi.fn(ctx)
}

// initName is wi's name; empty for none.
func initName(wi *WorkerInit) string {
	if wi == nil {
		return ""
	}
	return wi.name
}

// checkWorkerInit reports why wi cannot be a pool's WorkerInit.
func checkWorkerInit(wi *WorkerInit) error {
	switch {
	case wi == nil:
		return nil
	case wi.fn == nil:
		return configError("procpool", "WorkerInit was not made by DefineWorkerInit: define it at package level "+
			"with var X = localtasks.DefineWorkerInit(name, fn)")
	case wi.afterInit:
		return configError("procpool", "WorkerInit %q was defined at %s, after localtasks.Init() ran, so the worker processes, "+
			"which run no more of main than Init, do not define it: define it at package level (var X = localtasks.DefineWorkerInit(...))",
			wi.name, wi.where)
	}
	return nil
}

// inWorker: the process was started as a process-pool worker. Read once, as
// the package is initialised, before Init removes the variable from the
// environment (so that a program a task starts is no worker).
var inWorker = os.Getenv(wire.SpecEnv) != ""

// InWorker reports whether the process is a process-pool worker: true in
// the worker processes a ProcessPoolBackend starts, from the start of the
// program (package variables and init functions too) to its end; false in
// the program that started them, and so in the tasks of every other
// backend, and in the programs a task starts. Use it to keep work that
// only the parent needs out of the workers, or to check where code runs.
func InWorker() bool { return inWorker }

// WorkerInitError is the error of a worker process whose initialiser
// (ProcessPoolConfig.WorkerInit) failed: NewProcessPool returns it, and a
// pool logs it for a replacement worker. The error value stayed in the
// worker: its type name and message crossed, as for a task's TaskError.
type WorkerInitError struct {
	Name    string // the initialiser's name, as DefineWorkerInit was given it
	PID     int    // the worker process's
	Type    string // the Go type of its error, or of the value it panicked with
	Message string // the error's text, or the panic value printed
	Stack   string // where it panicked; empty when it returned an error
	Stderr  string // the first and last lines the worker wrote to stderr, if any
}

// Error names the initialiser and gives its error's message.
func (e *WorkerInitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "localtasks: worker process %d did not start serving: its worker initialiser %q (ProcessPoolConfig.WorkerInit) ", e.PID, e.Name)
	if e.Stack != "" {
		b.WriteString("panicked: ")
	} else {
		b.WriteString("failed: ")
	}
	b.WriteString(e.Message)
	b.WriteString(e.Stderr)
	return b.String()
}
