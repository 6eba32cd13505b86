package dashboard

import (
	"errors"
	"net/http"
	"time"
)

// SetNow makes h read the time from now, for tests of the throughput.
// Call it before h serves a request.
func SetNow(h *Handler, now func() time.Time) { h.now = now }

// SetIntervals changes how often h's event streams send stats and pings.
// Call it before h serves a request.
func SetIntervals(h *Handler, stats, ping time.Duration) { h.statsEvery, h.pingEvery = stats, ping }

// SetFlush changes how often h's event streams get the runs' news, and how
// many runs' news a flush sends at most. The stats and ping ticks flush the
// news too: they are stretched to every as well, so that a test that
// flushes by itself (FlushEvents) sees each run's news in the frame it
// makes, however slow the machine. Call it before h serves a request.
func SetFlush(h *Handler, every time.Duration, maxTasks int) {
	h.flushEvery, h.maxTasks = every, maxTasks
	h.statsEvery, h.pingEvery = max(h.statsEvery, every), max(h.pingEvery, every)
}

// FlushEvents makes h's hub flush the events it has at once, and returns
// when the frame is made; it fails the test if no stream is open.
func FlushEvents(t interface{ Fatal(...any) }, h *Handler) {
	h.hubMu.Lock()
	hb := h.hub
	h.hubMu.Unlock()
	if hb == nil {
		t.Fatal("FlushEvents: no event stream is open")
	}
	ack := make(chan struct{})
	hb.flushNow <- ack
	<-ack
}

// Subscriptions reports how many subscriptions h's hub holds, none if no
// stream is open.
func Subscriptions(h *Handler) int {
	h.hubMu.Lock()
	defer h.hubMu.Unlock()
	n := 0
	if h.hub != nil {
		for _, sub := range h.hub.subs {
			if sub != nil {
				n++
			}
		}
	}
	return n
}

// DecodeStrike, DecodePause and ParseStatuses are the API's request
// parsers, for the fuzz targets.
var (
	DecodeStrike  = decodeStrike
	DecodePause   = decodePause
	ParseStatuses = parseStatuses
)

// ParseTagFilter reads a query's tag and meta parameters, as api/snapshot
// does, for its fuzz target.
func ParseTagFilter(rawQuery string) (string, map[string]string, error) {
	q, err := parseQuery(rawQuery)
	return q.opts.Tag, q.opts.Metadata, err
}

// StatusOf returns the HTTP status the API answers err with.
func StatusOf(err error) int {
	var f *failure
	if errors.As(err, &f) {
		return f.status
	}
	return http.StatusInternalServerError
}
