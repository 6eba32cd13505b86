package localtasks

import (
	"slices"
	"sync"
	"sync/atomic"
)

// EventKind says what happened to a task, like Django's task signals.
type EventKind uint8

// The event kinds.
const (
	// EventEnqueued: Enqueue accepted the task.
	EventEnqueued EventKind = iota + 1
	// EventStarted: an attempt started (once per attempt).
	EventStarted
	// EventFinished: the task reached its final status.
	EventFinished
	// EventProgress: a running task reported progress (SetProgress).
	EventProgress
)

// String returns the kind's name: "enqueued", "started", "finished" or
// "progress".
func (k EventKind) String() string {
	switch k {
	case EventEnqueued:
		return "enqueued"
	case EventStarted:
		return "started"
	case EventFinished:
		return "finished"
	case EventProgress:
		return "progress"
	}
	return "unknown"
}

// Event is one thing that happened to a task, with a snapshot of the task
// right after it.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Result is the task's snapshot right after it happened.
	Result TaskResult
}

// SubscribeBufferDefault is the buffer of a subscription whose Subscribe call
// asked for none.
const SubscribeBufferDefault = 1024

// Subscription delivers a backend's events on C, in the order they happened
// for any one task. Delivery never blocks the pool: when C's buffer is full,
// the event is dropped for this subscriber and counted in Dropped, so give C
// a buffer that covers your bursts, and read it promptly.
//
// C is closed when the subscription or the backend's state is closed.
type Subscription struct {
	// C receives the events.
	C <-chan Event

	c       chan Event
	dropped atomic.Uint64
	b       *broadcaster
}

// Dropped reports how many events this subscriber missed because C was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close stops the deliveries and closes C. Closing twice is safe.
func (sub *Subscription) Close() { sub.b.unsubscribe(sub) }

// broadcaster delivers events to subscriptions: in the order it is given
// them, never blocking, counting what a full subscriber missed. A state has
// one; backends outside the package get one from backendkit.NewBroadcaster,
// hence its exported methods. The zero value has no subscribers.
type broadcaster struct {
	n      atomic.Int32 // len(subs), for publishers that check before building an event
	mu     sync.Mutex   // guards what follows; taken after state.mu
	subs   []*Subscription
	closed bool
}

// Subscribe returns a new subscription with a buffer of buffer events
// (SubscribeBufferDefault if buffer is 0 or less); once b is closed, one
// whose C is closed.
func (b *broadcaster) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = SubscribeBufferDefault
	}
	c := make(chan Event, buffer)
	sub := &Subscription{C: c, c: c, b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(c)
		return sub
	}
	b.subs = append(b.subs, sub)
	b.n.Store(int32(len(b.subs)))
	return sub
}

func (b *broadcaster) unsubscribe(sub *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.subs, sub); i >= 0 {
		b.subs = slices.Delete(b.subs, i, i+1)
		b.n.Store(int32(len(b.subs)))
		close(sub.c)
	}
}

// Subscribed reports whether anyone is subscribed, so that a publisher
// can skip building events nobody reads.
func (b *broadcaster) Subscribed() bool { return b.n.Load() > 0 }

// Publish delivers ev to every subscriber whose buffer has room, and
// counts it as dropped for the others.
func (b *broadcaster) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.subs {
		select {
		case sub.c <- ev:
		default:
			sub.dropped.Add(1)
		}
	}
}

// Close closes every subscription's C; later subscriptions start closed.
// Closing twice is safe.
func (b *broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, sub := range b.subs {
		close(sub.c)
	}
	b.subs = nil
	b.n.Store(0)
}
