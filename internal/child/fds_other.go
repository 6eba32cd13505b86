//go:build !unix

package child

// closeOnExec: the process pool does not start here.
func closeOnExec(int) {}
