package dashboard

import (
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	// sampleEvery is the least time between two samples of a backend.
	sampleEvery = time.Second
	// sampleWindow is how far back the samples go.
	sampleWindow = 10 * time.Minute
)

// sampler keeps, per backend, samples of how many runs had finished: one
// whenever a snapshot or a stats event is made at least sampleEvery after
// the last, over the last sampleWindow. It samples lazily, so that the
// dashboard needs no goroutine of its own; with nobody watching, the chart
// has gaps, and the rate across one is the average over it.
type sampler struct {
	mu      sync.Mutex
	samples [][]sample // per backend, oldest first
}

type sample struct {
	at       time.Time
	finished uint64
}

func newSampler(backends int) *sampler {
	return &sampler{samples: make([][]sample, backends)}
}

// record samples backend i's counters c at now, if its last sample is at
// least sampleEvery old, and returns its throughput: one point per sample
// after the first, the rate of finishes since the sample before.
func (s *sampler) record(i int, now time.Time, c localtasks.Counters) []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.samples[i]
	if n := len(ss); n == 0 || now.Sub(ss[n-1].at) >= sampleEvery {
		ss = append(ss, sample{at: now, finished: c.Succeeded + c.Failed + c.Cancelled})
	}
	cut := 0
	for cut < len(ss) && now.Sub(ss[cut].at) > sampleWindow {
		cut++
	}
	ss = ss[cut:]
	s.samples[i] = ss
	return points(ss)
}

func points(ss []sample) []Point {
	out := make([]Point, 0, max(len(ss)-1, 0))
	for k := 1; k < len(ss); k++ {
		prev, cur := ss[k-1], ss[k]
		done := cur.finished - prev.finished
		if cur.finished < prev.finished {
			done = cur.finished // the backend's state started afresh
		}
		out = append(out, Point{At: cur.at, PerSecond: float64(done) / cur.at.Sub(prev.at).Seconds()})
	}
	return out
}
