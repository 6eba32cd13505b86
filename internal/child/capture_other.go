//go:build !unix

package child

// capture is Unix-only; the process pool does not start elsewhere.
type capture struct{}

func (w *worker) startCapture() error { return nil }

func (w *worker) settleOutputLocked() {}

func pollable(fd int) {}
