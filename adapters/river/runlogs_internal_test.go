package river

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// TestLogLines checks that the lines a run's logs are stored as are JSON,
// and read back as they were written, whatever the strings hold.
func TestLogLines(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 0, 0, 123456789, time.FixedZone("X", 3600))
	recs := []localtasks.LogRecord{
		{Attempt: 1, Time: at, Level: slog.LevelInfo, Stream: "log", Message: "plain"},
		{Attempt: 3, Time: at, Level: slog.LevelDebug - 4, Stream: "log", Message: "q\"uo\\te\n\ttab\x00\x1f\u2028é",
			Attrs: []localtasks.LogAttr{{Key: "cut", Value: "true"}, {Key: "msg", Value: "m"}, {Key: "time", Value: ""}, {Key: "a.b", Value: "{\"x\":1}"}}},
		{Attempt: 2, Time: at, Level: slog.LevelWarn + 2, Stream: "log", Message: "cut", Cut: true,
			Attrs: []localtasks.LogAttr{{Key: "dropped", Value: "7"}}},
	}
	text := string(appendLog(nil, recs, 5))
	lines := strings.SplitAfter(text, "\n")
	require.Len(t, lines, len(recs)+2) // and "" after the last newline
	for _, l := range lines[:len(lines)-1] {
		require.True(t, json.Valid([]byte(l)), "%q", l)
	}
	raw, err := json.Marshal([]logEntry{{Attempt: 1, Log: text}})
	require.NoError(t, err)
	got, dropped := readLogs(raw)
	require.Equal(t, 5, dropped)
	require.Len(t, got, len(recs))
	for i := range recs {
		require.True(t, recs[i].Time.Equal(got[i].Time), "time %v, read %v", recs[i].Time, got[i].Time)
		got[i].Time = recs[i].Time
	}
	require.Equal(t, recs, got)

	// Invalid UTF-8 is stored as U+FFFD, as encoding/json would.
	bad := localtasks.LogRecord{Attempt: 1, Level: slog.LevelInfo, Message: "a\xffb"}
	r, _, ok := parseLogLine(string(appendLogLine(nil, &bad)))
	require.True(t, ok)
	require.Equal(t, "a\ufffdb", r.Message)
}

// TestLogLinesForeign checks that lines the adapter did not write are
// skipped, and a list it cannot read is no logs.
func TestLogLinesForeign(t *testing.T) {
	for _, l := range []string{
		"plain text\n",
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"no attempt"}`,
		`{"level":"INFO","time":"2026-12-02T18:00:00Z","msg":"m","attempt":1}`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1,"n":1}`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1,"g":{"k":"v"}}`,
		`{"time":"yesterday","level":"INFO","msg":"m","attempt":1}`,
		`{"time":"2026-12-02T18:00:00Z","level":"LOUD","msg":"m","attempt":1}`,
		`{"dropped":0}`,
		`[1,2]`,
		`{"time":"2026-12-02T18:00:00Z"`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1}x`,
		`{ "time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1}`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"a\/b","attempt":1}`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1,"k":"v}`,
		`{"time":"2026-12-02T18:00:00Z","level":"INFO","msg":"m","attempt":1,"cut":tru}`,
	} {
		_, d, ok := parseLogLine(l)
		require.False(t, ok, "%s", l)
		require.Zero(t, d, "%s", l)
	}
	for _, raw := range []string{``, `{}`, `"text"`, `[{"attempt":"one"}]`} {
		recs, d := readLogs(json.RawMessage(raw))
		require.Nil(t, recs, raw)
		require.Zero(t, d, raw)
	}
}

// BenchmarkRunLogLine is what one record costs a run that keeps it, but
// River's part: kept by the attempt's capture (Logger(ctx)'s tee, without
// the backend's own handler), written as its line as the attempt ends, and
// read back, as Wait, GetResult and Watch read it, from the list riverlog
// stores.
func BenchmarkRunLogLine(b *testing.B) {
	cfg := localtasks.RunLogs{MaxRecords: localtasks.RunLogsMaxRecords, MaxBytes: localtasks.RunLogsMaxBytes}
	b.Run("Write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := &attemptLogs{cfg: &cfg, attempt: 1}
			slog.New(a.capture()).Info("step done", "step", 1)
			recs, dropped := a.logs.Records()
			_ = appendLog(nil, recs, dropped)
		}
	})
	rec := localtasks.LogRecord{Attempt: 1, Time: time.Now(), Level: slog.LevelInfo, Message: "step done",
		Attrs: []localtasks.LogAttr{{Key: "step", Value: "1"}}}
	raw, err := json.Marshal([]logEntry{{Attempt: 1, Log: string(appendLog(nil, []localtasks.LogRecord{rec}, 0))}})
	require.NoError(b, err)
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if recs, _ := readLogs(raw); len(recs) != 1 {
				b.Fatal(recs)
			}
		}
	})
}
