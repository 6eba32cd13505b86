package localtasks

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/localtasks/localtasks/internal/taskctx"
	"github.com/localtasks/localtasks/internal/wire"
)

// LogRecord is one record a run wrote: through Logger(ctx), or, on a
// process pool, a line it printed to its stdout or stderr. TaskResult.Logs
// holds them.
type LogRecord struct {
	// Attempt is the number of the attempt that wrote it, from 1.
	Attempt int
	// Time is when it was written: the record's time for Logger(ctx), when
	// the parent read the line for a printed one.
	Time time.Time
	// Level is the record's level; slog.LevelInfo for a printed line.
	Level slog.Level
	// Stream is "log" for a record written through Logger(ctx), "stdout"
	// or "stderr" for a printed line.
	Stream string
	// Message is the record's message, or the line printed, without its
	// newline.
	Message string
	// Attrs are the record's attributes, groups flattened into dotted
	// keys and values printed, without the task, task_id and attempt that
	// Logger(ctx) adds: the run's own fields say those.
	Attrs []LogAttr
	// Cut says Message was cut to fit RunLogs.MaxBytes.
	Cut bool
}

// LogAttr is an attribute of a LogRecord.
type LogAttr struct {
	Key, Value string
}

// RunLogs says which of a run's log records its TaskResult keeps, in
// Config.RunLogs. Each record also goes to Config.Logger, whatever this
// says. The zero RunLogs keeps the records at slog.LevelInfo and above, up
// to RunLogsMaxRecords records or RunLogsMaxBytes bytes a run.
type RunLogs struct {
	// Off keeps no records on the runs.
	Off bool
	// Level is the least level kept. Defaults to slog.LevelInfo (0).
	Level slog.Level
	// MaxRecords bounds the records a run keeps, all its attempts
	// together. Defaults to RunLogsMaxRecords.
	MaxRecords int
	// MaxBytes bounds the bytes of the messages and attributes a run
	// keeps, all its attempts together; a message longer than a quarter of
	// it is cut to that (LogRecord.Cut). Defaults to RunLogsMaxBytes.
	MaxBytes int
}

// The bounds of a run's logs that RunLogs defaults to.
const (
	RunLogsMaxRecords = 200
	RunLogsMaxBytes   = 64 << 10
)

// runLogs are the records one run kept, all its attempts together. Its mu
// is a leaf: the attempt's Logger takes it alone, a snapshot under
// state.mu. Once appended, a record never changes and is never moved in
// place: a snapshot shares the array up to its length (view).
type runLogs struct {
	mu      sync.Mutex
	recs    []LogRecord
	bytes   int // of recs: see size
	dropped int // records left out
}

// size is what a record counts against RunLogs.MaxBytes.
func size(r *LogRecord) int {
	n := len(r.Message)
	for _, a := range r.Attrs {
		n += len(a.Key) + len(a.Value)
	}
	return n
}

// add keeps r within the bounds of cfg, which has its defaults: when the
// run's logs are full, the records of its earlier attempts, oldest first,
// make room for the current attempt's; within an attempt, the first
// records are kept and the later ones dropped, and counted.
func (l *runLogs) add(cfg *RunLogs, r LogRecord) {
	if most := cfg.MaxBytes / 4; len(r.Message) > most {
		r.Message, r.Cut = cutString(r.Message, most), true
	}
	n := size(&r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > cfg.MaxBytes { // its attributes alone are too long
		l.dropped++
		return
	}
	if len(l.recs) >= cfg.MaxRecords || l.bytes+n > cfg.MaxBytes {
		k := 0 // the earlier attempts' records to drop
		freed := 0
		full := func() bool { return len(l.recs)-k >= cfg.MaxRecords || l.bytes-freed+n > cfg.MaxBytes }
		for k < len(l.recs) && l.recs[k].Attempt < r.Attempt && full() {
			freed += size(&l.recs[k])
			k++
		}
		if full() { // the current attempt's records leave it no room
			l.dropped++
			return
		}
		// A new array: a snapshot may share the old one.
		l.recs = append(make([]LogRecord, 0, max(cap(l.recs), 8)), l.recs[k:]...)
		l.bytes -= freed
		l.dropped += k
	}
	l.recs = append(l.recs, r)
	l.bytes += n
}

// view returns the records kept and how many were dropped; the slice
// shares l's array, capped so an append to it copies.
func (l *runLogs) view() ([]LogRecord, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.recs)
	if n == 0 {
		return nil, l.dropped
	}
	return l.recs[:n:n], l.dropped
}

// cutString cuts s to at most n bytes, not inside a character.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// captureHandler keeps an attempt's records on its run: the Logger(ctx) of
// an attempt tees to it (taskctx.Hooks.Capture).
type captureHandler struct {
	logs    *runLogs
	cfg     *RunLogs
	attempt int
	attrs   []LogAttr // from WithAttrs
	group   string    // the groups open, each followed by a dot
}

func (h *captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.cfg.Level }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := LogRecord{Attempt: h.attempt, Time: r.Time, Level: r.Level, Stream: "log", Message: r.Message}
	if n := len(h.attrs) + r.NumAttrs(); n > 0 {
		rec.Attrs = make([]LogAttr, 0, n)
		rec.Attrs = append(rec.Attrs, h.attrs...)
		r.Attrs(func(a slog.Attr) bool {
			rec.Attrs = appendLogAttr(rec.Attrs, h.group, a)
			return true
		})
	}
	h.logs.add(h.cfg, rec)
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]LogAttr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendLogAttr(c.attrs, h.group, a)
	}
	return &c
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

// appendLogAttr appends a, its groups flattened into keys under prefix.
func appendLogAttr(dst []LogAttr, prefix string, a slog.Attr) []LogAttr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range v.Group() {
			dst = appendLogAttr(dst, prefix, g)
		}
		return dst
	}
	if a.Equal(slog.Attr{}) {
		return dst
	}
	return append(dst, LogAttr{Key: prefix + a.Key, Value: v.String()})
}

// logsOf returns rec's logs, made if need be. Must hold s.mu.
func (s *state) logsOf(rec *record) *runLogs {
	x := rec.extra()
	if x.logs == nil {
		x.logs = new(runLogs)
	}
	return x.logs
}

// captureFor is the Capture hook: the handler that keeps the records of
// the attempt of c on its run; nil if the backend keeps none.
func (s *state) captureFor(c *taskctx.Ctx) slog.Handler {
	if s.set.cfg.RunLogs.Off {
		return nil
	}
	rec := c.Ref.(*record)
	s.mu.Lock()
	logs := s.logsOf(rec)
	s.mu.Unlock()
	return &captureHandler{logs: logs, cfg: &s.set.cfg.RunLogs, attempt: c.Number}
}

// workerLog is the LogRecord of a log record, or printed line, m that a
// process-pool worker sent for an attempt, read at at. The leading task,
// task_id and attempt attributes, which the worker's Logger(ctx) adds, are
// left out.
func workerLog(m *wire.FromWorker, attempt int, at time.Time) LogRecord {
	attrs := m.Attrs
	if len(attrs) >= 3 && attrs[0].Key == "task" && attrs[1].Key == "task_id" && attrs[2].Key == "attempt" {
		attrs = attrs[3:]
	}
	r := LogRecord{Attempt: attempt, Time: at, Level: slog.Level(m.Level), Stream: m.Stream, Message: m.Line}
	if len(attrs) > 0 {
		r.Attrs = make([]LogAttr, len(attrs))
		for i, a := range attrs {
			r.Attrs[i] = LogAttr(a)
		}
	}
	return r
}

// keptLogs is a run's logs with their bounds, for backendkit.RunLogs,
// which holds one through internal/bridge.
type keptLogs struct {
	runLogs
	cfg RunLogs
}

// newKeptLogs returns empty logs bounded by cfg, its zero bounds the
// defaults.
func newKeptLogs(cfg RunLogs) *keptLogs {
	cfg.MaxRecords = cmp.Or(cfg.MaxRecords, RunLogsMaxRecords)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, RunLogsMaxBytes)
	return &keptLogs{cfg: cfg}
}

func (k *keptLogs) Add(r LogRecord) { k.add(&k.cfg, r) }

func (k *keptLogs) AddDropped(n int) {
	k.mu.Lock()
	k.dropped += n
	k.mu.Unlock()
}

func (k *keptLogs) Handler(attempt int) slog.Handler {
	return &captureHandler{logs: &k.runLogs, cfg: &k.cfg, attempt: attempt}
}

func (k *keptLogs) Records() ([]LogRecord, int) { return k.view() }
