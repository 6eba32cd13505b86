package child

import (
	"time"

	"github.com/localtasks/localtasks/internal/wire"
)

// heartbeat tells the parent, every interval while a run is in progress,
// that the worker is alive and its stream in order: a heartbeat is sent
// whole, under omu, like every other message. The parent kills a worker
// that sends nothing for its liveness timeout while it has runs in flight
// (a task that wrote garbage on the stream, a worker stopped by a signal).
// Between runs it sends nothing: the parent expects nothing then.
func (w *worker) heartbeat(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for range t.C {
		w.omu.Lock()
		if w.cur != 0 {
			w.writeOrFail(wire.FromWorker{Kind: wire.KindHeartbeat})
			w.flushLocked()
		}
		w.omu.Unlock()
	}
}
