package localtasks

import "github.com/localtasks/localtasks/internal/bridge"

// What package backendkit reaches through internal/bridge.
func init() {
	// backendkit's Request names the backend; an unnamed one is "the backend".
	bridge.CheckRequest = func(backend string, caps Capabilities, queues []string, task Definition, args any, opts *Options) error {
		return checkRequest(backendLabel("", backend), caps, queues, task, args, opts)
	}
	bridge.WithCause = func(te TaskError, err error) TaskError {
		te.err = err
		return te
	}
	bridge.NewBroadcaster = func() any { return new(broadcaster) }
}
