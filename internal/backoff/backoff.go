// Package backoff computes the wait before a retry.
package backoff

import (
	"math"
	"time"
)

// Delay returns the wait before the attempt after attempt number failed
// (attempt counts from 1): initial * multiplier^(attempt-1), capped at max when
// max > 0, then shortened by up to jitter (a fraction in [0, 1]) of itself,
// using r, a uniform random number in [0, 1). A multiplier of 0 or 1 gives a
// fixed delay.
func Delay(attempt int, initial, max time.Duration, multiplier, jitter, r float64) time.Duration {
	if initial <= 0 {
		return 0
	}
	d := float64(initial)
	if multiplier > 1 && attempt > 1 {
		d *= math.Pow(multiplier, float64(attempt-1))
	}
	if max > 0 && d > float64(max) {
		d = float64(max)
	}
	if d > math.MaxInt64/2 { // far beyond any useful wait: keep the arithmetic finite
		d = math.MaxInt64 / 2
	}
	if jitter > 0 {
		d -= d * jitter * r
	}
	return time.Duration(d)
}
