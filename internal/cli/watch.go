package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

var watchCommand = &command{
	name: "watch",
	arg:  "ID",
	summary: `Watch follows a run until it finishes, with a progress bar that it redraws
on a terminal (elsewhere, a line for each change), then prints how it ended.
A run that has finished already is printed at once.

Exit status: 0 if the run ended SUCCESSFUL, 1 if FAILED or CANCELLED, 2 if
the dashboard cannot be reached or does not know the run, 130 if
interrupted.`,
	setup: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, c *client, stdout io.Writer, pos []string) (int, error) {
			v := &progressView{w: stdout, terminal: isTerminal(stdout)}
			code, err := watch(ctx, c, pos[0], v)
			v.end()
			return code, err
		}
	},
}

// watch follows the run id, drawing it on v, and returns the exit status
// for how it ended.
func watch(ctx context.Context, c *client, id string, v *progressView) (int, error) {
	var t task
	if err := c.get(ctx, resultPath(id, ""), &t); err != nil {
		return 0, err
	}
	id = t.ID // id may be the first digits of it
	if ended(&t) {
		return v.finish(&t), nil
	}
	v.show(&t)

	// The stream is taken for lost when nothing comes for streamIdle.
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	idle := time.AfterFunc(streamIdle, func() { stop(errStreamIdle) })
	defer idle.Stop()
	stream, err := c.events(sctx, id)
	if errors.Is(context.Cause(sctx), errStreamIdle) {
		return 0, fmt.Errorf("the dashboard at %s did not start the event stream within %v: is the program stuck, or is a proxy holding the stream back?", c.base, streamIdle)
	}
	if err != nil {
		return 0, err
	}
	defer stream.Close()
	// The run may have finished between the first GET and the stream's
	// start, its events sent to no one: look again now that they reach us.
	if err := c.get(ctx, resultPath(id, ""), &t); err != nil {
		return 0, err
	}
	if ended(&t) {
		return v.finish(&t), nil
	}
	v.show(&t)

	// The dashboard drops events for a client that reads too slowly, the
	// finished one among them perhaps: when a stats event says more runs
	// have finished, look at the run again.
	finishedRuns := int64(-1)
	sse := newSSEReader(touchReader{stream, func() { idle.Reset(streamIdle) }})
	for {
		ev, err := sse.next()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, errSSETooLong) {
				return 0, fmt.Errorf("following run %s at %s: %w", id, c.base, err)
			}
			if errors.Is(context.Cause(sctx), errStreamIdle) {
				return 0, fmt.Errorf("the dashboard's event stream sent nothing for %v while run %s was %s: the connection is lost, or a proxy holds the events back (it must not buffer text/event-stream); run watch again", streamIdle, id, t.Status)
			}
			// The stream ended (the program is closing its backends, or
			// went away): say how the run stands, if anyone can.
			if err := c.get(ctx, resultPath(id, ""), &t); err != nil {
				return 0, err
			}
			if ended(&t) {
				return v.finish(&t), nil
			}
			return 0, fmt.Errorf("the dashboard's event stream ended while run %s was %s: is the program closing? Run watch again to follow it", id, t.Status)
		}
		switch ev.name {
		case "task":
			var te taskEvent
			if err := json.Unmarshal([]byte(ev.data), &te); err != nil {
				return 0, fmt.Errorf("the dashboard sent a task event the command cannot read (%v): are this command and the program built from the same localtasks version?", err)
			}
			if te.Task.ID != id {
				continue
			}
			t = te.Task
		case "stats":
			var se statsEvent
			if json.Unmarshal([]byte(ev.data), &se) != nil {
				continue // only a hint
			}
			var n int64
			for _, b := range se.Backends {
				n += int64(b.Counters.Succeeded + b.Counters.Failed + b.Counters.Cancelled)
			}
			if n == finishedRuns {
				continue
			}
			first := finishedRuns < 0
			finishedRuns = n
			if first {
				continue
			}
			if err := c.get(ctx, resultPath(id, ""), &t); err != nil {
				return 0, err
			}
		case "dropped":
			// News were left out, the run's perhaps: look at it again.
			if err := c.get(ctx, resultPath(id, ""), &t); err != nil {
				return 0, err
			}
		default:
			continue
		}
		if ended(&t) {
			return v.finish(&t), nil
		}
		v.show(&t)
	}
}

// streamIdle is how long watch waits for anything on the event stream
// before it takes the connection for lost. The dashboard sends a ping at
// least every 15 s, stats every second.
const streamIdle = 45 * time.Second

var errStreamIdle = errors.New("the event stream went quiet")

// touchReader calls touch after each read that got something.
type touchReader struct {
	r     io.Reader
	touch func()
}

func (t touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.touch()
	}
	return n, err
}

// events opens the dashboard's event stream for the run id.
func (c *client) events(ctx context.Context, id string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("api/events?id="+url.QueryEscape(id)), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return nil, responseError(req, resp, b)
		}
		return nil, unexpected(req, resp, b)
	}
	return resp.Body, nil
}

// sseEvent is one server-sent event: its name ("message" unless the
// stream named it) and its data lines, joined by newlines.
type sseEvent struct {
	name, data string
}

// sseReader reads server-sent events, as the HTML standard's
// text/event-stream says, keeping only the event and data fields. A line or
// an event's data over sseMax bytes is an error (errSSETooLong): the
// dashboard's events are a few KiB, and a stream that is not one could
// otherwise make the reader buffer without limit.
type sseReader struct {
	r *bufio.Reader
}

// sseMax bounds a line and an event's data.
const sseMax = 1 << 20

var errSSETooLong = fmt.Errorf("the event stream sent a line or an event over %d bytes: is the URL a localtasks dashboard's?", sseMax)

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReader(r)} }

// line reads a line, without its end, of at most sseMax bytes.
func (s *sseReader) line() (string, error) {
	var long []byte // a line longer than the reader's buffer
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(long)+len(frag) > sseMax+2 { // the line and its end, \r\n
			return "", errSSETooLong
		}
		switch err {
		case nil:
			line := string(append(long, frag...))
			return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
		case bufio.ErrBufferFull:
			long = append(long, frag...)
		default:
			return "", err // a line without its end is cut short
		}
	}
}

// next returns the next event with data. It returns io.EOF at the end of
// the stream (an event cut short by the end is dropped, as the standard
// says).
func (s *sseReader) next() (sseEvent, error) {
	var (
		name    string
		data    strings.Builder
		hasData bool
	)
	for {
		line, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if line == "" {
			if hasData {
				if name == "" {
					name = "message"
				}
				return sseEvent{name: name, data: data.String()}, nil
			}
			name = ""
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "": // a comment, such as ": ping"
		case "event":
			name = value
		case "data":
			if data.Len()+len(value)+1 > sseMax {
				return sseEvent{}, errSSETooLong
			}
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
	}
}

// isTerminal reports whether w is a terminal, where watch redraws its line
// with \r; elsewhere (a file, a pipe, a test's buffer) it prints a line a
// change.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// barWidth is the progress bar's width in characters; lineMax, how wide a
// redrawn line may get, so that a line in an 80-column terminal does not
// wrap, which would defeat \r.
const (
	barWidth = 30
	lineMax  = 79
)

// progressView draws a run's progress.
type progressView struct {
	w        io.Writer
	terminal bool
	last     string // the line drawn last
	open     bool   // a terminal line is drawn without its newline
}

// line describes where t is, as
// "RUNNING  [#########.....................]  30%  3/10  page 3".
func (v *progressView) line(t *task) string {
	s := cell(t.Status, 0)
	switch {
	case t.Status == "SCHEDULED" && t.RunAfter != nil:
		s += " until " + formatTime(t.RunAfter, time.Now())
	case t.Status == "RUNNING" && t.Attempts > 1:
		s += fmt.Sprintf(" (attempt %d)", t.Attempts)
	}
	p := t.Progress
	if p == nil {
		return s
	}
	if p.Total > 0 {
		n := int(percent(p) * barWidth / 100)
		s += fmt.Sprintf("  [%s%s] %3d%%  %d/%d", strings.Repeat("#", n), strings.Repeat(".", barWidth-n), percent(p), p.Done, p.Total)
	} else {
		s += fmt.Sprintf("  %d done", p.Done)
	}
	if p.Message != "" {
		s += "  " + cell(p.Message, 0)
	}
	if v.terminal {
		s = cell(s, lineMax)
	}
	return s
}

// show draws t if it changed.
func (v *progressView) show(t *task) {
	s := v.line(t)
	if s == v.last {
		return
	}
	if v.terminal {
		// \r, the new line, and spaces over the rest of the old one.
		pad := max(len([]rune(v.last))-len([]rune(s)), 0)
		fmt.Fprintf(v.w, "\r%s%s", s, strings.Repeat(" ", pad))
		v.open = true
	} else {
		fmt.Fprintln(v.w, s)
	}
	v.last = s
}

// end ends a terminal line left open.
func (v *progressView) end() {
	if v.open {
		fmt.Fprintln(v.w)
		v.open = false
	}
}

// finish draws the finished run t, says how it ended, and returns the exit
// status for it.
func (v *progressView) finish(t *task) int {
	v.show(t)
	v.end()
	id := cell(t.ID, 0)
	took := ""
	if d := duration(t); d > 0 {
		took = " in " + formatDuration(d)
	}
	switch t.Status {
	case statusSuccessful:
		fmt.Fprintf(v.w, "Run %s of %s ended SUCCESSFUL%s.\n", id, cell(t.Task, 0), took)
		if val := compact(t.Value); val != "null" {
			fmt.Fprintf(v.w, "Value: %s\n", cell(val, 0))
		}
		return ExitOK
	case statusFailed:
		attempts := "1 attempt"
		if t.Attempts != 1 {
			attempts = fmt.Sprintf("%d attempts", t.Attempts)
		}
		fmt.Fprintf(v.w, "Run %s of %s ended FAILED%s, after %s.\n", id, cell(t.Task, 0), took, attempts)
		if n := len(t.Errors); n > 0 {
			e := t.Errors[n-1]
			fmt.Fprintf(v.w, "Last error: %s: %s\n", cell(e.Type, 0), indent(text(e.Message), "  "))
		}
		fmt.Fprintf(v.w, "'localtasks result %s' shows every attempt's error, with stacks.\n", id)
	default:
		fmt.Fprintf(v.w, "Run %s of %s ended %s%s.\n", id, cell(t.Task, 0), cell(t.Status, 0), took)
		if t.CancelReason != "" {
			fmt.Fprintf(v.w, "Reason: %s\n", cell(t.CancelReason, 0))
		}
	}
	return ExitRunFailed
}
