package otel

import "fmt"

// fmtPanic is how a span shows the value a panicking attempt panicked with.
func fmtPanic(r any) string {
	if err, ok := r.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(r)
}
