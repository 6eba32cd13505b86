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

// DecodeStrike and ParseStatuses are the API's request parsers, for the
// fuzz targets.
var (
	DecodeStrike  = decodeStrike
	ParseStatuses = parseStatuses
)

// StatusOf returns the HTTP status the API answers err with.
func StatusOf(err error) int {
	var f *failure
	if errors.As(err, &f) {
		return f.status
	}
	return http.StatusInternalServerError
}
