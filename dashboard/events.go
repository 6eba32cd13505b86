package dashboard

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	// writeWait bounds each write to a stream, so that a client that stops
	// reading ends its stream instead of holding it open forever. It also
	// overrides a server's WriteTimeout, which would end every stream.
	writeWait = 30 * time.Second
	// flushEveryDefault is how often the streams get the task events of
	// the time since the last flush, coalesced: one per run.
	flushEveryDefault = 100 * time.Millisecond
	// maxTasksDefault caps the runs a stream is sent news of per flush; a
	// stream is told how many it was not sent (a "dropped" event), and the
	// page loads a snapshot instead.
	maxTasksDefault = 32
)

// serveEvents answers GET api/events with server-sent events: "task" with
// the news of each run that changed since the last flush (or only of the
// run the query's id names, whole or by its first 8 or more hex digits),
// "stats" at once and every statsEvery, "dropped" when runs' news were
// left out, and a ping comment every pingEvery. The events come from the handler's hub, which every stream
// shares; the stream ends when the client goes away or a backend's state
// shuts down. Beyond Config.MaxStreams streams, it answers 503.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if r.Method == http.MethodHead {
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	id := r.URL.Query().Get("id")
	if digits, err := localtasks.ParseIDPrefix(id); err == nil && len(digits) < 32 {
		// The first digits of an ID: the run's whose ID they begin.
		_, res, err := h.find(r.Context(), id)
		if err != nil {
			writeError(w, err)
			return
		}
		id = res.ID
	}
	hb := h.join(id)
	if hb == nil {
		hd.Set("Retry-After", "5")
		writeError(w, fail(http.StatusServiceUnavailable, CodeUnavailable,
			"too many event streams are open (Config.MaxStreams is %d): close a dashboard page, or raise the limit", h.maxStreams))
		return
	}
	defer h.leave(id)
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer

	s := &stream{w: w, rc: http.NewResponseController(w), id: id}
	w.WriteHeader(http.StatusOK)
	next, wake, seen := hb.position()
	s.seen = seen
	stats, err := json.Marshal(h.stats())
	if err != nil || s.write(message(nil, "stats", stats)) != nil {
		return
	}
	var frames []*frame
	for {
		var ended bool
		frames, next, wake, ended = hb.since(next, frames[:0])
		if len(frames) > 0 && s.write(s.render(frames, h.maxTasks)) != nil {
			return // the client is gone, or stopped reading
		}
		if len(frames) > 0 {
			s.seen = frames[len(frames)-1].cum
		}
		clear(frames) // keep no frame alive while waiting
		if ended {
			return // a backend's state shut down
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		}
	}
}

// stats makes a stats event, and samples the throughput.
func (h *Handler) stats() Stats {
	now := h.now()
	out := Stats{At: now, Backends: make([]BackendStats, len(h.backends))}
	for i, b := range h.backends {
		c := b.counters()
		out.Backends[i] = BackendStats{Name: b.label, Counters: newCounters(c), Throughput: h.samples.record(i, now, c)}
	}
	return out
}

// message appends a server-sent event named name with data, one line of
// JSON, to b.
func message(b []byte, name string, data []byte) []byte {
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// stream is one client's event stream.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	id string // the run it follows; "" for all
	// seen is the cum of the last frame the stream was sent: what it
	// missed of the frames the hub let go is counted from it.
	seen uint64
}

// render makes what the stream is sent of frames, the ones it has not seen,
// oldest first. A stream of every run that missed nothing gets each frame's
// bytes as they are, shared with every other stream; otherwise the stream
// gets each run's latest news once over the frames, and the newest stats,
// so that a slow client is sent less, not more. A stream of every run gets
// maxTasks runs' news at most, the newest; a "dropped" event says how many
// events were left out, or lost because the stream or the hub read them
// too late.
func (s *stream) render(frames []*frame, maxTasks int) []byte {
	// The news in the frames the hub let go before the stream saw them.
	first := frames[0]
	dropped := first.cum - first.count() - min(s.seen, first.cum-first.count())
	if s.id == "" && dropped == 0 {
		if len(frames) == 1 {
			return first.all
		}
	}
	var (
		out   []byte
		stats []byte
		ping  bool
		tasks []taskNews
		at    = make(map[string]int)
	)
	for _, f := range frames {
		dropped += f.dropped
		if s.id == "" {
			dropped += f.cut
		}
		if f.stats != nil {
			stats = f.stats
		}
		ping = ping || f.ping
		for _, t := range f.tasks {
			if s.id != "" && t.id != s.id || s.id == "" && !t.inAll {
				continue
			}
			if i, ok := at[t.id]; ok {
				tasks[i].msg = t.msg
				continue
			}
			at[t.id] = len(tasks)
			tasks = append(tasks, t)
		}
	}
	if s.id == "" && len(tasks) > maxTasks {
		dropped += uint64(len(tasks) - maxTasks)
		tasks = tasks[len(tasks)-maxTasks:]
	}
	if dropped > 0 {
		out = droppedMessage(out, dropped)
	}
	for _, t := range tasks {
		out = append(out, t.msg...)
	}
	out = append(out, stats...)
	if ping {
		out = append(out, pingMessage...)
	}
	return out
}

var pingMessage = []byte(": ping\n\n")

func droppedMessage(b []byte, n uint64) []byte {
	data, _ := json.Marshal(Dropped{Events: n})
	return message(b, "dropped", data)
}

// write sends b, if any, and flushes it.
func (s *stream) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait)) // not every ResponseWriter has deadlines
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
