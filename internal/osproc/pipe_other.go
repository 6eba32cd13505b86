//go:build !unix

package osproc

import "os"

// ExitReader: the pool does not start workers here; it reads f as it is.
type ExitReader struct{ f *os.File }

// NewExitReader returns an ExitReader on f.
func NewExitReader(f *os.File) *ExitReader { return &ExitReader{f: f} }

// Read reads from f.
func (r *ExitReader) Read(p []byte) (int, error) { return r.f.Read(p) }

// Exited does nothing here.
func (r *ExitReader) Exited() {}

// Close closes f.
func (r *ExitReader) Close() error { return r.f.Close() }
