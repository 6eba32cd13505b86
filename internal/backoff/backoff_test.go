package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	s := time.Second
	cases := []struct {
		name                string
		attempt             int
		initial, max        time.Duration
		mult, jitter, rand_ float64
		want                time.Duration
	}{
		{"no delay", 3, 0, 0, 2, 0, 0, 0},
		{"fixed", 5, s, 0, 1, 0, 0, s},
		{"fixed, multiplier zero", 5, s, 0, 0, 0, 0, s},
		{"exponential first", 1, s, 0, 2, 0, 0, s},
		{"exponential third", 3, s, 0, 2, 0, 0, 4 * s},
		{"capped", 10, s, 30 * s, 2, 0, 0, 30 * s},
		{"jitter full", 2, s, 0, 2, 0.5, 0.999999999, s + 1}, // 2s - 2s*0.5*~1
		{"jitter none drawn", 2, s, 0, 2, 0.5, 0, 2 * s},
		{"huge attempt stays finite", 500, s, 0, 10, 0, 0, math_MaxInt64Half},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Delay(c.attempt, c.initial, c.max, c.mult, c.jitter, c.rand_)
			require.InDelta(t, float64(c.want), float64(got), 2, "got %v", got)
		})
	}
}

const math_MaxInt64Half = time.Duration(1<<63-1) / 2
