//go:build !unix

package localtasks_test

// processPoolSupported: the process pool runs on Unix only; elsewhere
// NewProcessPool fails with errors.ErrUnsupported.
const processPoolSupported = false
