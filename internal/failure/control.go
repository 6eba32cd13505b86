package failure

import (
	"fmt"
	"time"
)

// Permanent is localtasks.Permanent's error: the run fails with Err, and no
// attempt follows.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }

// Unwrap returns Err, so that errors.Is and errors.As see through p.
func (p *Permanent) Unwrap() error { return p.Err }

// Snooze is localtasks.Snooze's and SnoozeUntil's error: run again at At,
// or after For if At is zero, and count no failed attempt.
type Snooze struct {
	At  time.Time
	For time.Duration
}

func (s *Snooze) Error() string {
	if !s.At.IsZero() {
		return "snoozed until " + s.At.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("snoozed for %v", s.For)
}

// When is when the run snoozed at now runs again.
func (s *Snooze) When(now time.Time) time.Time {
	if !s.At.IsZero() {
		return s.At
	}
	return now.Add(s.For)
}
