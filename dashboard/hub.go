package dashboard

import (
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/localtasks/localtasks"
)

const (
	// hubBuffer is how far each of the hub's subscriptions may fall behind
	// between two flushes: the most events it reads a flush, a backend.
	hubBuffer = 1024
	// keepFrames is how many frames the hub keeps for streams that are
	// behind; a stream further behind is told what it missed.
	keepFrames = 16
)

// hub reads the backends' events for every event stream of a Handler: one
// subscription per backend, whatever the number of streams, read every
// flushEvery by one goroutine, which coalesces the events into frames (a
// run's latest news once a frame), encodes each once, and wakes the
// streams. Each stream then takes the frames it has not seen at its own
// pace. The hub starts with the first stream and stops with the last, so
// that a Handler owns no goroutine while no stream is open.
type hub struct {
	h    *Handler
	subs []*localtasks.Subscription // per backend; nil for one that is no Subscriber
	stop chan struct{}
	done chan struct{}
	// flushNow makes the hub flush at once, and answer on the channel it
	// is sent: for the tests.
	flushNow chan chan struct{}

	// Used by the hub's goroutine alone, between flushes.
	buf  []localtasks.Event
	news []taskNews
	at   map[string]int // the runs in news
	cum  uint64

	mu     sync.Mutex
	frames []*frame      // the newest frames, oldest first; at most keepFrames
	next   uint64        // the seq of the next frame
	wake   chan struct{} // closed at the next frame
	ended  bool          // a backend's state shut down: no frame will follow
}

// frame is what the hub sends the streams at once: runs' news, stats, a
// ping. It never changes once made.
type frame struct {
	seq uint64
	// tasks holds the news a stream may get, one per run, oldest first:
	// those in all, and those of the runs a stream follows.
	tasks []taskNews
	// dropped counts the events the hub could not read in time; cut, the
	// runs whose news were left out of all by the cap.
	dropped, cut uint64
	cum          uint64 // count(), summed over this frame and every one before
	stats        []byte // a stats message, or nil
	ping         bool
	all          []byte // the frame's messages, as a stream of every run gets them
}

// count is the news the frame carries or says were lost, for a stream of
// every run.
func (f *frame) count() uint64 { return f.cut + f.dropped + uint64(f.maxTasksIn()) }

// maxTasksIn is how many runs' news all carries.
func (f *frame) maxTasksIn() int {
	n := 0
	for _, t := range f.tasks {
		if t.inAll {
			n++
		}
	}
	return n
}

// taskNews is the latest news of one run in a frame: a whole "task"
// message.
type taskNews struct {
	id    string
	kind  localtasks.EventKind
	inAll bool // in the frame's all: one of the newest maxTasks
	msg   []byte
	ev    localtasks.Event // until the frame is made
	b     int              // the backend's index
}

// join counts a new stream in, following the run id ("" for all),
// starting the hub if it is the first, and returns the hub; nil if
// Config.MaxStreams streams are open already.
func (h *Handler) join(id string) *hub {
	h.hubMu.Lock()
	defer h.hubMu.Unlock()
	if h.streams >= h.maxStreams {
		return nil
	}
	h.streams++
	if id != "" {
		if h.follow == nil {
			h.follow = make(map[string]int)
		}
		h.follow[id]++
		h.followCopy = nil
	}
	if h.hub == nil {
		h.hub = newHub(h)
	}
	return h.hub
}

// leave counts out a stream that followed the run id, and stops the hub
// after the last.
func (h *Handler) leave(id string) {
	h.hubMu.Lock()
	defer h.hubMu.Unlock()
	h.streams--
	if id != "" {
		if h.follow[id]--; h.follow[id] == 0 {
			delete(h.follow, id)
		}
		h.followCopy = nil
	}
	if h.streams == 0 {
		h.hub.close()
		h.hub = nil
	}
}

// followed returns the runs that streams follow, with how many streams
// each: a map that does not change, made again after a stream of one run
// joins or leaves.
func (h *Handler) followed() map[string]int {
	h.hubMu.Lock()
	defer h.hubMu.Unlock()
	if h.followCopy == nil {
		h.followCopy = maps.Clone(h.follow)
		if h.followCopy == nil {
			h.followCopy = map[string]int{}
		}
	}
	return h.followCopy
}

func newHub(h *Handler) *hub {
	hb := &hub{h: h, subs: make([]*localtasks.Subscription, len(h.backends)), stop: make(chan struct{}),
		done: make(chan struct{}), flushNow: make(chan chan struct{}), wake: make(chan struct{}),
		buf: make([]localtasks.Event, 64), at: make(map[string]int)}
	for i, b := range h.backends {
		if b.sub != nil {
			hb.subs[i] = b.sub.Subscribe(hubBuffer)
		}
	}
	go hb.run()
	return hb
}

// close stops the hub's goroutine and ends its subscriptions.
func (hb *hub) close() {
	close(hb.stop)
	<-hb.done
	for _, sub := range hb.subs {
		if sub != nil {
			sub.Close()
		}
	}
}

func (hb *hub) run() {
	defer close(hb.done)
	h := hb.h
	flush := time.NewTicker(h.flushEvery)
	defer flush.Stop()
	stats := time.NewTicker(h.statsEvery)
	defer stats.Stop()
	ping := time.NewTicker(h.pingEvery)
	defer ping.Stop()
	hb.flush(false, false) // at once: a backend closed already ends the streams now
	for {
		select {
		case <-hb.stop:
			return
		case <-flush.C:
			hb.flush(false, false)
		case <-stats.C:
			hb.flush(true, false)
		case <-ping.C:
			hb.flush(false, true)
		case ack := <-hb.flushNow:
			hb.flush(false, false)
			close(ack)
		}
	}
}

// flush reads what the subscriptions have, and makes a frame of it, with
// stats or a ping if asked, unless it would be empty.
func (hb *hub) flush(stats, ping bool) {
	f := &frame{ping: ping}
	ended := false
	for i, sub := range hb.subs {
		if sub == nil {
			continue
		}
		before := sub.Dropped()
		for read := 0; read < hubBuffer; {
			n, err := sub.Read(hb.buf)
			if errors.Is(err, localtasks.ErrSubscriptionClosed) {
				ended = true
			}
			if n == 0 {
				break
			}
			read += n
			for _, ev := range hb.buf[:n] {
				hb.add(i, ev)
			}
			clear(hb.buf[:n])
		}
		f.dropped += sub.Dropped() - before
	}
	if stats {
		data, err := json.Marshal(hb.h.stats())
		if err == nil {
			f.stats = message(nil, "stats", data)
		}
	}
	if len(hb.news) > 0 {
		// Encoded once, and kept, are the news some stream gets: the
		// newest maxTasks runs', and those of the runs a stream follows.
		first := max(len(hb.news)-hb.h.maxTasks, 0)
		f.cut = uint64(first)
		followed := hb.h.followed()
		for i, t := range hb.news {
			t.inAll = i >= first
			if !t.inAll && followed[t.id] == 0 {
				continue
			}
			data, err := json.Marshal(TaskEvent{Kind: t.kind.String(), Task: newTask(hb.h.backends[t.b].label, t.ev.Result)})
			if err != nil {
				data, _ = json.Marshal(TaskEvent{Kind: t.kind.String(), Task: Task{ID: t.id, Backend: hb.h.backends[t.b].label}})
			}
			f.tasks = append(f.tasks, taskNews{id: t.id, kind: t.kind, inAll: t.inAll, msg: message(nil, "task", data)})
		}
		clear(hb.news)
		hb.news = hb.news[:0]
		clear(hb.at)
	}
	if f.dropped == 0 && len(f.tasks) == 0 && f.stats == nil && !ping && !ended {
		return
	}
	f.all = hb.render(f)
	hb.cum += f.count()
	f.cum = hb.cum

	hb.mu.Lock()
	f.seq = hb.next
	hb.next++
	if len(hb.frames) == keepFrames {
		copy(hb.frames, hb.frames[1:])
		hb.frames = hb.frames[:keepFrames-1]
	}
	hb.frames = append(hb.frames, f)
	hb.ended = hb.ended || ended
	close(hb.wake)
	hb.wake = make(chan struct{})
	hb.mu.Unlock()
}

// add coalesces ev of backend i into the news of the flush: a run's latest
// snapshot, once. Its kind is the latest, but that progress (or metadata)
// does not hide a start or an end: a run that started and reported progress since the
// last flush is news of a start, with the progress.
func (hb *hub) add(i int, ev localtasks.Event) {
	id := ev.Result.ID
	if j, ok := hb.at[id]; ok && hb.news[j].b == i {
		t := &hb.news[j]
		if !isUpdate(ev.Kind) || isUpdate(t.kind) {
			t.kind = ev.Kind
		}
		t.ev = ev
		return
	}
	hb.at[id] = len(hb.news)
	hb.news = append(hb.news, taskNews{id: id, kind: ev.Kind, ev: ev, b: i})
}

// render makes f's messages for a stream of every run: the newest
// maxTasks runs' news, and a dropped event for the rest.
func (hb *hub) render(f *frame) []byte {
	var out []byte
	if n := f.dropped + f.cut; n > 0 {
		out = droppedMessage(out, n)
	}
	for _, t := range f.tasks {
		if t.inAll {
			out = append(out, t.msg...)
		}
	}
	out = append(out, f.stats...)
	if f.ping {
		out = append(out, pingMessage...)
	}
	return out
}

// position returns the seq of the next frame, the channel closed when it
// is made, and the cum of the frame before.
func (hb *hub) position() (uint64, <-chan struct{}, uint64) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	var cum uint64
	if n := len(hb.frames); n > 0 {
		cum = hb.frames[n-1].cum
	}
	return hb.next, hb.wake, cum
}

// since appends to out the frames from seq next on that the hub still
// keeps, and returns them with the seq after them, the channel closed at
// the frame after, and whether the hub has ended.
func (hb *hub) since(next uint64, out []*frame) ([]*frame, uint64, <-chan struct{}, bool) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for _, f := range hb.frames {
		if f.seq >= next {
			out = append(out, f)
		}
	}
	return out, hb.next, hb.wake, hb.ended
}

// isUpdate reports whether an event of kind k only updates a running run
// (its progress, its metadata): news that must not hide a start or an end.
func isUpdate(k localtasks.EventKind) bool {
	return k == localtasks.EventProgress || k == localtasks.EventMetadata
}
