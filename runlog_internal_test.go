package localtasks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A record that would not fit even with every earlier attempt's record
// pushed out is dropped alone: the earlier records stay.
func TestRunLogsAddNoRoom(t *testing.T) {
	cfg := &RunLogs{MaxRecords: 10, MaxBytes: 4000}
	var l runLogs
	l.add(cfg, LogRecord{Attempt: 1, Message: strings.Repeat("a", 100)})
	l.add(cfg, LogRecord{Attempt: 2, Message: strings.Repeat("b", 950)})
	l.add(cfg, LogRecord{Attempt: 2, Message: strings.Repeat("c", 950)})
	l.add(cfg, LogRecord{Attempt: 2, Message: strings.Repeat("d", 950)})
	l.add(cfg, LogRecord{Attempt: 2, Message: strings.Repeat("e", 950)})
	recs, dropped := l.view()
	require.Len(t, recs, 5, "100 + 4 × 950 bytes fit in 4000")
	l.add(cfg, LogRecord{Attempt: 2, Message: strings.Repeat("f", 500)})
	recs, dropped = l.view()
	require.Len(t, recs, 5, "attempt 2's own records leave no room for 500 more bytes, even without attempt 1's")
	require.Equal(t, 1, recs[0].Attempt, "so attempt 1's record stays")
	require.Equal(t, 1, dropped)
	require.Equal(t, 3900, l.bytes)

	l.add(cfg, LogRecord{Attempt: 3, Message: strings.Repeat("g", 900)})
	recs, dropped = l.view()
	require.Equal(t, []int{2, 2, 2, 3}, attemptsOf(recs), "attempt 3's record pushes out the oldest records, enough for it")
	require.Equal(t, 3, dropped)
	require.Equal(t, 950*3+900, l.bytes)
}

func attemptsOf(recs []LogRecord) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.Attempt)
	}
	return out
}
