package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// sse is one message of an event stream: an event, or a comment.
type sse struct {
	event, data, comment string
}

// eventStream is an open GET api/events.
type eventStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// openEvents opens the event stream of h, served by a test server that
// the test's cleanup closes, after the stream.
func openEvents(t *testing.T, h http.Handler, query string) *eventStream {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/events"+query, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() }) // runs before srv.Close, which waits for the handler
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return &eventStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next message, or returns io.EOF when the stream ended.
// A test that waits too long fails by its own timeout: the stream's
// pings and stats keep next returning.
func (s *eventStream) next() (sse, error) {
	var m sse
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m != (sse{}) {
				return m, nil
			}
		case strings.HasPrefix(line, ": "):
			m.comment = strings.TrimPrefix(line, ": ")
		case strings.HasPrefix(line, "event: "):
			m.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.Empty(s.t, m.data, "one data line per event")
			m.data = strings.TrimPrefix(line, "data: ")
		default:
			s.t.Fatalf("unexpected line in the event stream: %q", line)
		}
	}
}

func (s *eventStream) mustNext() sse {
	s.t.Helper()
	m, err := s.next()
	require.NoError(s.t, err)
	return m
}

// nextTask reads up to the next task event.
func (s *eventStream) nextTask() dashboard.TaskEvent {
	s.t.Helper()
	for {
		m := s.mustNext()
		if m.event != "task" {
			continue
		}
		var ev dashboard.TaskEvent
		require.NoError(s.t, json.Unmarshal([]byte(m.data), &ev))
		return ev
	}
}

// firstStats reads the stats event the stream starts with: once it is
// read, the stream's subscriptions are in place.
func (s *eventStream) firstStats() dashboard.Stats {
	s.t.Helper()
	m := s.mustNext()
	require.Equal(s.t, "stats", m.event)
	var st dashboard.Stats
	require.NoError(s.t, json.Unmarshal([]byte(m.data), &st))
	return st
}

// The stream sends each run's news coalesced over a flush: its latest
// snapshot, once, as a start while it started and reported progress since
// the last flush.
func TestEventsStreamTaskEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a := newPool(t, localtasks.ThreadPoolConfig{})
	b := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, named{a, "io"}, named{b, "cpu"})
	dashboard.SetFlush(h, time.Hour, 64) // flushed by the test alone
	stream := openEvents(t, h, "")

	stats := stream.firstStats()
	require.Len(t, stats.Backends, 2)
	require.Equal(t, "io", stats.Backends[0].Name)
	require.Equal(t, "cpu", stats.Backends[1].Name)
	require.False(t, stats.At.IsZero())

	sub := b.Subscribe(0)
	defer sub.Close()
	hd, err := stepsTask.Enqueue(ctx, b, 4)
	require.NoError(t, err)
	waitEvent(t, sub, hd.ID(), localtasks.EventProgress) // enqueued, started, progress: one flush
	dashboard.FlushEvents(t, h)
	ev := stream.nextTask()
	require.Equal(t, hd.ID(), ev.Task.ID)
	require.Equal(t, "cpu", ev.Task.Backend)
	require.Equal(t, "started", ev.Kind, "progress does not hide the start")
	require.Equal(t, "RUNNING", ev.Task.Status)
	require.Equal(t, "page 3", ev.Task.Progress.Message, "the latest snapshot")

	require.NoError(t, hd.Cancel(ctx))
	_, err = b.Wait(ctx, hd.ID())
	require.NoError(t, err)
	dashboard.FlushEvents(t, h)
	ev = stream.nextTask()
	require.Equal(t, "finished", ev.Kind)
	require.Equal(t, "CANCELLED", ev.Task.Status)
	require.Equal(t, "page 3", ev.Task.Progress.Message)

	done, err := echoTask.Enqueue(ctx, a, shopArgs{Shop: "acme"})
	require.NoError(t, err)
	wait(t, a, done.ID())
	dashboard.FlushEvents(t, h)
	ev = stream.nextTask()
	require.Equal(t, done.ID(), ev.Task.ID, "one event for the whole run: no enqueued, no started")
	require.Equal(t, "io", ev.Task.Backend)
	require.Equal(t, "finished", ev.Kind)
	require.JSONEq(t, `{"Shop": "acme", "N": 0}`, string(ev.Task.Value))
}

// A flush sends the news of maxTasks runs at most, the newest, and says
// how many it left out; a stream of one run gets its news wherever it is.
func TestEventsCapPerFlush(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	h := newHandler(t, false, pool)
	dashboard.SetFlush(h, time.Hour, 3)
	all := openEvents(t, h, "")
	all.firstStats()
	var ids []string
	for i := range 10 {
		hd, err := echoTask.Enqueue(ctx, pool, shopArgs{N: i})
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	one := openEvents(t, h, "?id="+ids[0])
	one.firstStats()
	for _, id := range ids {
		wait(t, pool, id)
	}
	dashboard.FlushEvents(t, h)

	m := all.mustNext()
	for m.event == "stats" {
		m = all.mustNext()
	}
	require.Equal(t, "dropped", m.event)
	var d dashboard.Dropped
	require.NoError(t, json.Unmarshal([]byte(m.data), &d))
	require.Equal(t, uint64(7), d.Events, "10 runs, 3 sent")
	for _, id := range ids[7:] {
		ev := all.nextTask()
		require.Equal(t, id, ev.Task.ID)
		require.Equal(t, "finished", ev.Kind)
	}

	ev := one.nextTask()
	require.Equal(t, ids[0], ev.Task.ID, "the first run, left out of the stream of every run")
	require.Equal(t, "finished", ev.Kind)
}

// However many streams are open, the handler holds one subscription per
// backend, and none once they have all ended.
func TestEventsShareOneSubscription(t *testing.T) {
	t.Parallel()
	a := newPool(t, localtasks.ThreadPoolConfig{})
	b := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, a, b)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	var bodies []io.ReadCloser
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		(&eventStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}).firstStats()
		bodies = append(bodies, resp.Body)
	}
	require.Equal(t, 2, dashboard.Subscriptions(h), "5 streams, 2 backends")
	cancel()
	for _, body := range bodies {
		io.Copy(io.Discard, body)
		body.Close()
	}
	srv.Close() // waits for the handlers
	require.Zero(t, dashboard.Subscriptions(h))
}

// Beyond Config.MaxStreams, a stream is refused with 503 and a JSON error;
// one that ends makes room.
func TestEventsMaxStreams(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	_, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, MaxStreams: -1})
	require.ErrorContains(t, err, "MaxStreams")
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, MaxStreams: 2})
	require.NoError(t, err)
	openEvents(t, h, "").firstStats()
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	require.NoError(t, err)
	second, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, second.StatusCode)

	resp, err := srv.Client().Get(srv.URL + "/api/events")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	var e dashboard.Error
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	require.Equal(t, dashboard.CodeUnavailable, e.Code)
	require.Contains(t, e.Message, "MaxStreams is 2")

	// The second stream ends: once its handler has returned, there is room.
	cancel()
	io.Copy(io.Discard, second.Body)
	second.Body.Close()
	for {
		resp, err := srv.Client().Get(srv.URL + "/api/events?id=none")
		require.NoError(t, err)
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
}

func TestEventsOfOneRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	later, err := echoTask.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	stream := openEvents(t, h, "?id="+later.ID()[:8]) // the first 8 digits, as the page shows them
	stream.firstStats()

	// Another run's events come first, and are left out.
	other, err := echoTask.Enqueue(ctx, pool, shopArgs{N: 1})
	require.NoError(t, err)
	wait(t, pool, other.ID())
	require.NoError(t, later.Cancel(ctx))

	ev := stream.nextTask()
	require.Equal(t, later.ID(), ev.Task.ID)
	require.Equal(t, "finished", ev.Kind)
}

func TestEventsStatsAndPings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	dashboard.SetIntervals(h, time.Millisecond, time.Hour)
	stream := openEvents(t, h, "")
	stream.firstStats()

	hd, err := echoTask.Enqueue(ctx, pool, shopArgs{})
	require.NoError(t, err)
	wait(t, pool, hd.ID())
	// The stats catch up with the run.
	for {
		m := stream.mustNext()
		if m.event != "stats" {
			continue
		}
		var st dashboard.Stats
		require.NoError(t, json.Unmarshal([]byte(m.data), &st))
		if st.Backends[0].Counters.Succeeded == 1 {
			require.Equal(t, uint64(1), st.Backends[0].Counters.Enqueued)
			require.NotNil(t, st.Backends[0].Throughput)
			break
		}
	}

	h = newHandler(t, false, pool)
	dashboard.SetIntervals(h, time.Hour, time.Millisecond)
	stream = openEvents(t, h, "")
	stream.firstStats()
	require.Equal(t, sse{comment: "ping"}, stream.mustNext())
}

// The stream ends when a backend's state shuts down.
func TestEventsEndWhenABackendCloses(t *testing.T) {
	t.Parallel()
	a := newPool(t, localtasks.ThreadPoolConfig{})
	b := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, a, b)
	stream := openEvents(t, h, "")
	stream.firstStats()

	require.NoError(t, b.Close(testContext(t)))
	for {
		_, err := stream.next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
	}

	// A new stream on a closed backend ends at once.
	stream = openEvents(t, h, "")
	stream.firstStats()
	_, err := stream.next()
	require.ErrorIs(t, err, io.EOF)
}

// A stream's handler returns when its client goes away: srv.Close, in the
// cleanup, waits for it, and goleak would see a goroutine left behind.
func TestEventsEndWhenTheClientGoes(t *testing.T) {
	t.Parallel()
	pool := newPool(t, localtasks.ThreadPoolConfig{})
	h := newHandler(t, false, pool)
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx, cancel := context.WithCancel(testContext(t))
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	stream := &eventStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	stream.firstStats()
	cancel()
	_, err = io.Copy(io.Discard, resp.Body)
	require.True(t, errors.Is(err, context.Canceled) || err == nil, "err: %v", err)
	require.NoError(t, resp.Body.Close())
}
