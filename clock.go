package localtasks

import "time"

// Clock is the source of time for run-after times, retry delays and
// timeouts. The default is the system clock; tests inject a fake one
// (localtaskstest.FakeClock) to move time on without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, like
	// time.AfterFunc. It must not call f before it returns.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call from Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started, and reports whether
	// it did prevent it.
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
