// Package failure turns what ended a task attempt badly, an error or a
// panic, into the description that localtasks stores as a TaskError, in the
// parent process and in a process-pool worker alike.
package failure

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Recovered is a panic recovered from a task or a middleware, as an error
// value: its value and the stack where it happened. It unwraps to the value
// if that is an error, so errors.Is and errors.As see through it.
type Recovered struct {
	Value any
	Stack string
}

func (r *Recovered) Error() string { return fmt.Sprint(r.Value) }

// Unwrap returns the panic value if it is an error, else nil.
func (r *Recovered) Unwrap() error {
	err, _ := r.Value.(error)
	return err
}

// Catch, deferred, turns a panic into a *Recovered in *err:
//
//	defer failure.Catch(&err)
func Catch(err *error) {
	if v := recover(); v != nil {
		*err = &Recovered{Value: v, Stack: string(debug.Stack())}
	}
}

// Report describes a failed attempt: what TaskError stores, and what a
// worker sends its parent.
type Report struct {
	// Type is the Go type of the error, or of the value the task panicked
	// with, such as "*fs.PathError".
	Type string
	// Message is the error's text, or the panic value printed.
	Message string
	// Stack is where the task panicked; empty when it returned an error.
	Stack string
	// Err is what errors.Is and errors.As should see: the error returned,
	// or the panic value if it is an error; nil for a Remote report.
	Err error
}

// Remote is an attempt's failure as a worker process reported it: its
// description, and the registered errors it matched there (see
// RegisterSentinel and RegisterType), rebuilt in this process.
type Remote struct {
	Report  Report
	Matches []error
}

func (r *Remote) Error() string { return r.Report.Message }

// Unwrap returns the registered errors r matched in the worker, so that
// errors.Is and errors.As find them as they would in the worker.
func (r *Remote) Unwrap() []error { return r.Matches }

// Describe describes err, the error an attempt ended with: a *Recovered
// panic, a *Remote report (when it is err itself), or any other error.
func Describe(err error) Report {
	if r, ok := err.(*Remote); ok {
		rep := r.Report
		rep.Err = r // for the errors it matched in the worker
		return rep
	}
	var p *Recovered
	if errors.As(err, &p) {
		return Report{Type: fmt.Sprintf("%T", p.Value), Message: fmt.Sprint(p.Value), Stack: p.Stack, Err: p.Unwrap()}
	}
	return Report{Type: fmt.Sprintf("%T", err), Message: err.Error(), Err: err}
}
