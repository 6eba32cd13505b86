package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	// eventBuffer is each stream's subscription buffer per backend. A
	// stream that falls further behind misses events; the page catches up
	// from its periodic snapshot.
	eventBuffer = 1024
	// writeWait bounds each write to a stream, so that a client that stops
	// reading ends its stream instead of holding it open forever. It also
	// overrides a server's WriteTimeout, which would end every stream.
	writeWait = 30 * time.Second
)

// serveEvents answers GET api/events with server-sent events: "task" for
// each event of every backend (or only of the run the query's id names),
// "stats" at once and every statsEvery, and a ping comment every
// pingEvery. The stream ends when the client goes away or a backend's
// state shuts down; it runs in the request's goroutine and starts none.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	subs := make([]*localtasks.Subscription, len(h.backends)) // nil for a backend that is no Subscriber
	for i, b := range h.backends {
		if b.sub != nil {
			subs[i] = b.sub.Subscribe(eventBuffer)
		}
	}
	defer func() {
		for _, sub := range subs {
			if sub != nil {
				sub.Close()
			}
		}
	}()
	stats := time.NewTicker(h.statsEvery)
	defer stats.Stop()
	ping := time.NewTicker(h.pingEvery)
	defer ping.Stop()

	// One select over the request's end, the tickers and every backend's
	// subscription: a case per backend, so reflect.Select.
	const (
		caseDone = iota
		caseStats
		casePing
		caseFirstBackend
	)
	cases := []reflect.SelectCase{
		caseDone:  {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.Context().Done())},
		caseStats: {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(stats.C)},
		casePing:  {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ping.C)},
	}
	for _, sub := range subs {
		c := reflect.SelectCase{Dir: reflect.SelectRecv} // no Chan: a case never chosen
		if sub != nil {
			c.Chan = reflect.ValueOf(sub.C())
		}
		cases = append(cases, c)
	}

	s := &stream{w: w, rc: http.NewResponseController(w)}
	w.WriteHeader(http.StatusOK)
	if s.event("stats", h.stats()) != nil {
		return
	}
	for {
		chosen, v, ok := reflect.Select(cases)
		var err error
		switch chosen {
		case caseDone:
			return
		case caseStats:
			err = s.event("stats", h.stats())
		case casePing:
			err = s.comment("ping")
		default:
			if !ok {
				return // the backend's state shut down
			}
			ev := v.Interface().(localtasks.Event)
			if id != "" && ev.Result.ID != id {
				continue
			}
			label := h.backends[chosen-caseFirstBackend].label
			err = s.event("task", TaskEvent{Kind: ev.Kind.String(), Task: newTask(label, ev.Result)})
		}
		if err != nil {
			return // the client is gone, or stopped reading
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

// stream writes server-sent events.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// event sends v as the data of an event named name. encoding/json writes
// no newline, so the data is one line.
func (s *stream) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("dashboard: encoding a %s event: %w", name, err)
	}
	return s.write("event: %s\ndata: %s\n\n", name, data)
}

// comment sends a comment line, which clients ignore.
func (s *stream) comment(text string) error {
	return s.write(": %s\n\n", text)
}

func (s *stream) write(format string, args ...any) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait)) // not every ResponseWriter has deadlines
	if _, err := fmt.Fprintf(s.w, format, args...); err != nil {
		return err
	}
	return s.rc.Flush()
}
