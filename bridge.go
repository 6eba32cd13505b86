package localtasks

import "github.com/localtasks/localtasks/internal/bridge"

// What package backendkit reaches through internal/bridge.
func init() {
	bridge.CheckRequest = checkRequest
	bridge.WithCause = func(te TaskError, err error) TaskError {
		te.err = err
		return te
	}
	bridge.NewBroadcaster = func() any { return new(broadcaster) }
}
