package localtasks

import (
	"errors"
	"math/bits"
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
	// EventMetadata: a running task set a metadata pair (SetMetadata);
	// the event's Result has the run's metadata with it. A kind of its
	// own, not an EventProgress: a reader of progress bars need not
	// mistake it for one, and one that keeps only the latest event of a
	// run must not let it hide a start or an end.
	EventMetadata
)

// String returns the kind's name: "enqueued", "started", "finished",
// "progress" or "metadata".
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
	case EventMetadata:
		return "metadata"
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

const (
	// ringMin is the fewest events a broadcaster's ring holds once it
	// holds any: it starts there, and doubles as far as the largest buffer
	// of its subscribers when one of them falls behind.
	ringMin = 64
	// pumpBatch is how many events the goroutine behind Subscription.C
	// takes from the ring at a time; it is also C's buffer.
	pumpBatch = 16
)

// Subscription reads a backend's events. A backend keeps the events of all
// its subscribers in one ring, written once per event whatever the number
// of subscribers; each subscription is a position in it that its reader
// moves at its own pace. Publishing never waits for a subscriber, and costs
// the backend the same with one subscriber as with a thousand.
//
// Events come in the order they happened for any one task, and a
// subscription sees them in one order, the same for every subscription of
// the backend. A subscription sees the events published after Subscribe
// returned. A reader that falls more than its buffer behind the newest
// event (see Subscriber.Subscribe) loses the oldest it has not read: they
// are skipped, never delivered late, and counted in Dropped; read Dropped,
// then GetResult or Snapshot, to catch up.
//
// Read the events with Read and Ready, or on the channel C returns.
// Close the subscription when done with it.
type Subscription struct {
	b      *broadcaster
	buffer uint64        // how far behind the newest event it may fall
	next   uint64        // the position of its next event; guarded by b.mu
	closed bool          // by Close; guarded by b.mu
	stop   chan struct{} // closed by Close

	dropped uint64 // guarded by b.mu

	once sync.Once     // starts the pump behind C
	c    chan Event    // C's channel, made by the first call of C
	done chan struct{} // closed when the pump has returned
}

// ErrSubscriptionClosed is what Subscription.Read returns once the
// subscription, or the backend's state, is closed and every event before it
// has been read.
var ErrSubscriptionClosed = errors.New("localtasks: the subscription is closed, or its backend's state shut down: subscribe again, to a backend that is open")

// Dropped reports how many events this subscriber missed because it read
// them too late: more than its buffer behind the newest. It counts those
// it can no longer read too, before it reads again.
func (sub *Subscription) Dropped() uint64 {
	b := sub.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.closed {
		return sub.dropped
	}
	return sub.dropped + b.behind(sub)
}

// behind reports how many events sub can no longer read, being more than
// its buffer behind the newest or no longer in the ring. Must hold b.mu.
func (b *broadcaster) behind(sub *Subscription) uint64 {
	oldest := b.next - min(b.next, sub.buffer, uint64(len(b.ring)))
	return oldest - min(oldest, sub.next)
}

// Read copies into buf the events published since the last Read, oldest
// first, and returns how many; it does not wait. Events more than the
// subscription's buffer behind the newest are skipped, and counted in
// Dropped. Once the subscription or the backend's state is closed and every
// event before that was read, Read returns 0 and ErrSubscriptionClosed.
//
// Read and C are two ways to read one subscription: use one of them.
func (sub *Subscription) Read(buf []Event) (int, error) {
	b := sub.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.closed {
		return 0, ErrSubscriptionClosed
	}
	// Skip what sub may no longer read: past its buffer, or overwritten.
	if d := b.behind(sub); d > 0 {
		sub.dropped += d
		sub.next += d
	}
	n := 0
	mask := uint64(len(b.ring) - 1)
	for n < len(buf) && sub.next < b.next {
		buf[n] = b.ring[sub.next&mask]
		sub.next++
		n++
	}
	if n == 0 && b.closed {
		return 0, ErrSubscriptionClosed
	}
	return n, nil
}

// Ready returns a channel that is closed once there is something to Read:
// an event newer than the last read, or the end of the subscription. Call
// it again after each Read that returned events.
func (sub *Subscription) Ready() <-chan struct{} {
	b := sub.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub.next != b.next || b.closed || sub.closed {
		return closedChan
	}
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// C returns a channel that delivers the subscription's events, for a
// reader that selects on it among other things. The first call starts a
// goroutine that moves events from the backend's ring to the channel, 16
// at a time (the channel's buffer): it ends, and closes the channel, when the
// subscription is closed, or when the backend's state is closed and every
// event before that was delivered. A reader that stops reading C before it
// is closed must Close the subscription, or the goroutine waits for it.
func (sub *Subscription) C() <-chan Event {
	sub.once.Do(func() {
		sub.c = make(chan Event, pumpBatch)
		sub.done = make(chan struct{})
		go sub.pump()
	})
	return sub.c
}

// pump moves events from the ring to C until the subscription ends.
func (sub *Subscription) pump() {
	defer close(sub.done)
	defer close(sub.c)
	buf := make([]Event, pumpBatch)
	for {
		n, err := sub.Read(buf)
		if err != nil {
			return
		}
		for i := range n {
			select {
			case sub.c <- buf[i]:
			case <-sub.stop:
				return
			}
			buf[i] = Event{} // no snapshot kept alive by the pump
		}
		if n > 0 {
			continue
		}
		select {
		case <-sub.Ready():
		case <-sub.stop:
			return
		}
	}
}

// Close ends the subscription: Read returns ErrSubscriptionClosed, and the
// channel of C, if any, is closed, with what it had not delivered
// discarded. Closing twice is safe.
func (sub *Subscription) Close() {
	b := sub.b
	b.mu.Lock()
	if sub.closed {
		b.mu.Unlock()
		return
	}
	sub.closed = true
	close(sub.stop)
	b.unsubscribe(sub)
	b.mu.Unlock()
	sub.once.Do(func() { // no pump starts after this: C returns a closed channel
		sub.c = make(chan Event)
		close(sub.c)
	})
	if sub.done != nil {
		<-sub.done
	}
}

// broadcaster delivers events to subscriptions: in the order it is given
// them, never blocking, counting what a subscriber read too late. It keeps
// the events in one ring that every subscription reads, so that Publish
// costs the same whatever the number of subscribers. A state has one;
// backends outside the package get one from backendkit.NewBroadcaster,
// hence its exported methods. The zero value has no subscribers.
type broadcaster struct {
	n  atomic.Int32 // len(subs), for publishers that check before building an event
	mu sync.Mutex   // guards what follows; taken after state.mu

	// ring holds the newest len(ring) events, a power of two of them;
	// the event at position p is ring[p%len(ring)]. It is made at the
	// first event published to a subscriber, and grows by doubling up to
	// maxBuffer when a subscriber falls behind by half of it.
	ring      []Event
	next      uint64 // the position of the next event published
	growCheck uint64 // the position at which Publish next checks the lag
	wake      chan struct{}
	subs      []*Subscription
	maxBuffer uint64 // the largest buffer of subs
	closed    bool
}

// Subscribe returns a new subscription that may fall buffer events behind
// the newest (SubscribeBufferDefault if buffer is 0 or less) before it
// loses the oldest; once b is closed, one that Read and C report closed at
// once. It allocates no buffer of its own: see Subscription.
func (b *broadcaster) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = SubscribeBufferDefault
	}
	sub := &Subscription{b: b, buffer: uint64(buffer), stop: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	sub.next = b.next
	if b.closed {
		return sub
	}
	b.subs = append(b.subs, sub)
	b.maxBuffer = max(b.maxBuffer, sub.buffer)
	b.n.Store(int32(len(b.subs)))
	return sub
}

// unsubscribe drops sub. Must hold b.mu.
func (b *broadcaster) unsubscribe(sub *Subscription) {
	i := slices.Index(b.subs, sub)
	if i < 0 {
		return
	}
	b.subs = slices.Delete(b.subs, i, i+1)
	b.n.Store(int32(len(b.subs)))
	b.maxBuffer = 0
	for _, s := range b.subs {
		b.maxBuffer = max(b.maxBuffer, s.buffer)
	}
	if len(b.subs) == 0 {
		b.ring = nil // the next subscriber starts afresh, with a small one
	}
}

// Subscribed reports whether anyone is subscribed, so that a publisher
// can skip building events nobody reads.
func (b *broadcaster) Subscribed() bool { return b.n.Load() > 0 }

// Publish adds ev to the ring, for every subscriber to read, and wakes the
// readers that wait. Its cost does not depend on the number of subscribers,
// but for one check of their positions every half a ring of events.
func (b *broadcaster) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		return
	}
	if b.ring == nil {
		b.ring = make([]Event, ringSize(min(b.maxBuffer, ringMin)))
		b.growCheck = b.next + uint64(len(b.ring))/2
	}
	if b.next >= b.growCheck {
		b.grow()
	}
	b.ring[b.next&uint64(len(b.ring)-1)] = ev
	b.next++
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

// grow doubles the ring, as far as the subscribers' buffers need, while one
// of them is half a ring or more behind; and sets when to check again, half
// a ring later. Must hold b.mu.
func (b *broadcaster) grow() {
	size := uint64(len(b.ring))
	if size < b.maxBuffer {
		var need uint64 // what the subscribers may still read, and half a ring to come
		for _, s := range b.subs {
			need = max(need, min(s.buffer, b.next-min(s.next, b.next)+size/2))
		}
		if need > size {
			ring := make([]Event, ringSize(need))
			newMask, oldMask := uint64(len(ring)-1), size-1
			for p := b.next - min(b.next, size); p < b.next; p++ {
				ring[p&newMask] = b.ring[p&oldMask]
			}
			b.ring = ring
		}
	}
	b.growCheck = b.next + uint64(len(b.ring))/2
}

// ringSize is the power of two at least n.
func ringSize(n uint64) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

// Close ends every subscription once it has read the events published
// before; later subscriptions start closed. Closing twice is safe.
func (b *broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.subs = nil
	b.n.Store(0)
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}
