//go:build !cgo

package crashtest

// Available reports whether the package was built with cgo.
const Available = false

// Segfault panics: without cgo there is no C code to crash in.
func Segfault() { panic("crashtest: built without cgo") }
