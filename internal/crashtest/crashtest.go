//go:build cgo

// Package crashtest crashes the process in C code, for the process pool's
// tests of a worker that segfaults.
package crashtest

/*
static void segfault(void) {
	volatile int *p = 0;
	*p = 1;
}
*/
import "C"

// Available reports whether the package was built with cgo.
const Available = true

// Segfault dereferences a nil pointer in C.
func Segfault() { C.segfault() }
