package river

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river/riverlog"
	"github.com/riverqueue/river/rivertype"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// A run's logs (Config.RunLogs) are kept as River's riverlog middleware
// keeps a job's, so that River UI shows them: in the job's metadata, under
// logKey, a list of logEntry, one for each attempt that logged, oldest
// first. riverlog's middleware writes them itself, from the writer it gives
// each attempt: River lets no one else set a "river:" key (MetadataSet
// refuses them) without a query of its own.
//
// Each entry's log is JSON lines, one a record:
//
//	{"time":"2026-12-02T18:00:00.5Z","level":"INFO","msg":"hello","attempt":1,"k":"v"}
//
// time, level, msg and attempt (localtasks' number, snoozes counted, which
// River's entry number does not count) come first, in that order; then
// "cut":true if the message was cut (LogRecord.Cut), a boolean where an
// attribute is always a string; then the attributes, in order. An entry
// after which the run had dropped records ends with a line that counts them
// all, the run's LogsDropped so far:
//
//	{"dropped":3,"msg":"3 records of this run dropped so far, beyond RunLogs' bounds"}
//
// Other lines are skipped when the logs are read.
const logKey = "river:log"

// logEntry is an element of the list under logKey, riverlog's: the River
// attempt's number and what it logged.
type logEntry struct {
	Attempt int    `json:"attempt"`
	Log     string `json:"log"`
}

// logWriterKey is the ctx key of the writer that riverlog's middleware
// gives an attempt: what is written to it goes, as the attempt ends, to a
// new entry.
type logWriterKey struct{}

// newLogMiddleware returns riverlog's middleware, which gives each attempt
// a writer (logWriterKey) and stores what was written to it, if anything,
// in a new entry; the run's bounds are Config.RunLogs', enforced before it
// writes, so its own are as wide as River allows.
func newLogMiddleware() *riverlog.Middleware {
	return riverlog.NewMiddlewareCustomContext(func(ctx context.Context, w io.Writer) context.Context {
		return context.WithValue(ctx, logWriterKey{}, w)
	}, &riverlog.MiddlewareConfig{MaxSizeBytes: math.MaxInt, MaxTotalBytes: 64 << 20})
}

// attemptLogs keeps what an attempt writes through localtasks.Logger(ctx)
// (TaskInfo.Capture), from its first Logger: an attempt that logs nothing
// costs this struct and nothing else.
type attemptLogs struct {
	cfg     *localtasks.RunLogs
	attempt int             // localtasks' number
	earlier json.RawMessage // the job's list under logKey as the attempt started
	once    sync.Once
	// From the first Logger on: the run's logs, the earlier entries'
	// records first, each with the entry's index as its Stream, which the
	// bounds ignore; the attempt's own have "log".
	logs    *backendkit.RunLogs
	entries []storedEntry // the earlier entries
	prev    int           // the records the run had dropped before
}

// capture is TaskInfo.Capture.
func (a *attemptLogs) capture() slog.Handler {
	a.once.Do(func() {
		a.logs = backendkit.NewRunLogs(*a.cfg)
		a.entries = readLogEntries(a.earlier)
		for i, e := range a.entries {
			a.prev = max(a.prev, e.dropped)
			tag := strconv.Itoa(i)
			for _, r := range e.recs {
				r.Stream = tag
				a.logs.Add(r)
			}
		}
		a.logs.AddDropped(a.prev)
	})
	if a.logs == nil {
		return nil // a first Logger after store: too late to keep
	}
	return a.logs.Handler(a.attempt)
}

// store writes, as the attempt ends, what it kept to riverlog's writer in
// ctx: the records of its earlier attempts made room for them, oldest
// first, as localtasks' own backends make it, and if they had to, job's
// metadata gets the earlier entries that remain, which riverlog's
// middleware appends the new one to once Work returns (River hands the
// worker and the middleware the same row, and stores the list the
// middleware makes). An attempt that kept and dropped no record stores
// nothing.
func (a *attemptLogs) store(ctx context.Context, b *Backend, job *rivertype.JobRow) {
	a.once.Do(func() {})
	if a.logs == nil {
		return
	}
	all, total := a.logs.Records()
	var recs []localtasks.LogRecord
	keptBy := make([][]localtasks.LogRecord, len(a.entries))
	n := 0 // the earlier records kept
	for _, r := range all {
		if r.Stream == "log" {
			recs = append(recs, r)
			continue
		}
		i, _ := strconv.Atoi(r.Stream)
		keptBy[i] = append(keptBy[i], r)
		n++
	}
	if len(recs) == 0 && total == a.prev {
		return
	}
	w, ok := ctx.Value(logWriterKey{}).(io.Writer)
	if !ok {
		b.logger.Error("localtasks/river: cannot keep a run's logs: River gave its attempt no log writer", "task", job.Kind, "task_id", formatID(job.ID))
		return
	}
	was := 0
	for _, e := range a.entries {
		was += len(e.recs)
	}
	if n < was {
		// Rewrite the earlier entries with the records that remain.
		list := make([]logEntry, 0, len(a.entries))
		for i, e := range a.entries {
			if len(keptBy[i]) > 0 {
				list = append(list, logEntry{Attempt: e.attempt, Log: string(appendLog(nil, keptBy[i], e.dropped))})
			}
		}
		job.Metadata = withKey(job.Metadata, logKey, list)
	}
	if _, err := w.Write(appendLog(nil, recs, total)); err != nil {
		b.logger.Error("localtasks/river: cannot keep a run's logs", "task", job.Kind, "task_id", formatID(job.ID), "error", err)
	}
}

// withKey returns metadata with key set to v.
func withKey(metadata []byte, key string, v any) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(metadata, &m)
	raw, _ := json.Marshal(v)
	m[key] = raw
	out, _ := json.Marshal(m)
	return out
}

// storedEntry is a logEntry read: its records, and the run's dropped
// records its last line counted (0 for none).
type storedEntry struct {
	attempt int // River's
	recs    []localtasks.LogRecord
	dropped int
}

// readLogEntries reads the list under logKey; nil for none, or for what
// is not a list of entries.
func readLogEntries(raw json.RawMessage) []storedEntry {
	if len(raw) == 0 {
		return nil
	}
	var list []logEntry
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	entries := make([]storedEntry, 0, len(list))
	for _, e := range list {
		s := storedEntry{attempt: e.Attempt}
		for line := range strings.Lines(e.Log) {
			r, dropped, ok := parseLogLine(line)
			switch {
			case !ok:
			case dropped > 0:
				s.dropped = max(s.dropped, dropped)
			default:
				s.recs = append(s.recs, r)
			}
		}
		entries = append(entries, s)
	}
	return entries
}

// readLogs returns the records of the list under logKey, oldest first,
// and how many the run dropped, for TaskResult.Logs and LogsDropped.
func readLogs(raw json.RawMessage) ([]localtasks.LogRecord, int) {
	entries := readLogEntries(raw)
	if len(entries) == 1 { // the run logged in one attempt
		return entries[0].recs, entries[0].dropped
	}
	var recs []localtasks.LogRecord
	dropped := 0
	for _, e := range entries {
		recs = append(recs, e.recs...)
		dropped = max(dropped, e.dropped)
	}
	return recs, dropped
}

// appendLog appends recs, a line each, and, if dropped is above zero, the
// line that counts the run's dropped records.
func appendLog(buf []byte, recs []localtasks.LogRecord, dropped int) []byte {
	for i := range recs {
		buf = appendLogLine(buf, &recs[i])
	}
	if dropped > 0 {
		buf = append(buf, `{"dropped":`...)
		buf = strconv.AppendInt(buf, int64(dropped), 10)
		buf = append(buf, `,"msg":`...)
		buf = appendJSONString(buf, fmt.Sprintf("%d records of this run dropped so far, beyond RunLogs' bounds", dropped))
		buf = append(buf, "}\n"...)
	}
	return buf
}

// appendLogLine appends r's line.
func appendLogLine(buf []byte, r *localtasks.LogRecord) []byte {
	buf = append(buf, `{"time":"`...)
	buf = r.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","level":`...)
	buf = appendJSONString(buf, r.Level.String())
	buf = append(buf, `,"msg":`...)
	buf = appendJSONString(buf, r.Message)
	buf = append(buf, `,"attempt":`...)
	buf = strconv.AppendInt(buf, int64(r.Attempt), 10)
	if r.Cut {
		buf = append(buf, `,"cut":true`...)
	}
	for _, a := range r.Attrs {
		buf = append(buf, ',')
		buf = appendJSONString(buf, a.Key)
		buf = append(buf, ':')
		buf = appendJSONString(buf, a.Value)
	}
	return append(buf, "}\n"...)
}

// appendJSONString appends s as a JSON string, invalid UTF-8 as U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// parseLogLine reads a line appendLog wrote: a record, or, with dropped
// above zero, the count of the run's dropped records. ok is false for a
// line it did not write. It reads only the JSON appendLog writes (no
// spaces, and strings as appendJSONString escapes them), without
// encoding/json's reflection: reading a run's logs is on Wait's path.
func parseLogLine(line string) (r localtasks.LogRecord, dropped int, ok bool) {
	p := lineParser{s: strings.TrimSuffix(line, "\n")}
	if !p.skip('{') {
		return r, 0, false
	}
	r.Stream = "log"
	for i := 0; !p.skip('}'); i++ {
		if i > 0 && !p.skip(',') {
			return r, 0, false
		}
		key, isKey := p.str()
		if !isKey || !p.skip(':') {
			return r, 0, false
		}
		var s string
		var n int
		isString, isNumber, isTrue := false, false, false
		switch {
		case p.at('"'):
			s, isString = p.str()
			if !isString {
				return r, 0, false
			}
		case p.at('t'):
			if isTrue = strings.HasPrefix(p.s[p.i:], "true"); !isTrue {
				return r, 0, false
			}
			p.i += len("true")
		default:
			if n, isNumber = p.int(); !isNumber {
				return r, 0, false
			}
		}
		switch {
		case i == 0 && key == "dropped" && isNumber:
			return r, n, n > 0 && p.skip(',') // then its msg
		case i == 0:
			if key != "time" || !isString {
				return r, 0, false
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return r, 0, false
			}
			r.Time = t
		case i == 1:
			if key != "level" || !isString || r.Level.UnmarshalText([]byte(s)) != nil {
				return r, 0, false
			}
		case i == 2:
			if key != "msg" || !isString {
				return r, 0, false
			}
			r.Message = s
		case i == 3:
			if key != "attempt" || !isNumber {
				return r, 0, false
			}
			r.Attempt = n
		case i == 4 && key == "cut" && isTrue:
			r.Cut = true
		case isString:
			r.Attrs = append(r.Attrs, localtasks.LogAttr{Key: key, Value: s})
		default:
			return r, 0, false
		}
	}
	return r, 0, p.i == len(p.s) && r.Attempt > 0
}

// lineParser reads a line of a run's logs, from s[i:].
type lineParser struct {
	s string
	i int
}

// at reports whether the next byte is c.
func (p *lineParser) at(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

// skip skips c, if it is next, and reports whether it was.
func (p *lineParser) skip(c byte) bool {
	if p.at(c) {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string as appendJSONString writes it.
func (p *lineParser) str() (string, bool) {
	if !p.skip('"') {
		return "", false
	}
	start, escaped := p.i, false
	for ; p.i < len(p.s); p.i++ {
		switch p.s[p.i] {
		case '\\':
			escaped = true
			p.i++ // the escaped byte
		case '"':
			p.i++
			if !escaped {
				return p.s[start : p.i-1], true
			}
			s, err := strconv.Unquote(p.s[start-1 : p.i])
			return s, err == nil
		}
	}
	return "", false
}

// int reads a JSON integer.
func (p *lineParser) int() (int, bool) {
	start := p.i
	p.skip('-')
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	return n, err == nil
}
