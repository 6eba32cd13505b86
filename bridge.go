package localtasks

import (
	"time"

	"github.com/localtasks/localtasks/internal/bridge"
)

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
	bridge.Judge = func(p RetryPolicy, attempt, maxAttempts int, err error, now time.Time) (bool, time.Time, bool, error) {
		o := judgeError(&p, attempt, maxAttempts, nil, err)
		if o.snooze != nil {
			return false, o.snooze.When(now), true, o.err
		}
		return o.final, now.Add(o.wait), false, o.err
	}
	bridge.CompileStrike = func(st Strike) (any, error) {
		r, err := compileStrike(st)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	bridge.MatchStrike = func(r any, task Definition, args any) bool { return r.(*strikeRule).matches(task, args) }
	bridge.SameStrike = func(a, b any) bool { return a.(*strikeRule).same(b.(*strikeRule)) }
	bridge.NewRunLogs = func(cfg RunLogs) any { return newKeptLogs(cfg) }
}
