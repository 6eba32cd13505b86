package localtasks

// ImmediateBackend runs each task in the goroutine that enqueues it, before
// Enqueue returns, like Django's ImmediateBackend: for tests and scripts
// that want results at once. By the time Enqueue returns the ID, the run has
// finished, FAILED ones included; only invalid requests are errors.
//
// Retries run back to back, without the policy's delays, and run-after
// times are not supported (Capabilities.Defer is false). Tasks get a fresh
// ctx, not the caller's, as on the pools. Cancel is not a capability: a run
// has finished by the time its ID is known, so Cancel reports ErrFinished.
// Close does not wait for runs inside Enqueue calls of other goroutines;
// their attempts go on, and a retry not yet started ends CANCELLED.
type ImmediateBackend struct {
	holder
}

var _ Backend = (*ImmediateBackend)(nil)

var immediateCapabilities = Capabilities{Priority: true, GetResult: true, Retry: true, Timeout: true}

// NewImmediate builds an ImmediateBackend, or joins the state of the ones
// already built under cfg.Name.
func NewImmediate(cfg Config) (*ImmediateBackend, error) {
	st, err := cfg.settings("immediate", 0)
	if err != nil {
		return nil, err
	}
	s, err := openState(cfg.Name, st, func() (*state, error) {
		s := newState(cfg.Name, st, modeInline, immediateCapabilities)
		s.startWorkers(0)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return &ImmediateBackend{holder{s: s}}, nil
}
