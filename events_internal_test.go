package localtasks

import (
	"errors"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// publishN publishes n events whose results' IDs count on from *seq.
func publishN(b *broadcaster, seq *int, n int) {
	for range n {
		b.Publish(Event{Kind: EventEnqueued, Result: TaskResult{ID: strconv.Itoa(*seq)}})
		*seq++
	}
}

// readAll reads what sub has, and checks the IDs count on from first.
func readAll(t *testing.T, sub *Subscription, first int) int {
	t.Helper()
	buf := make([]Event, 100)
	got := 0
	for {
		n, err := sub.Read(buf)
		if errors.Is(err, ErrSubscriptionClosed) {
			return got
		}
		require.NoError(t, err)
		if n == 0 {
			return got
		}
		for _, ev := range buf[:n] {
			require.Equal(t, strconv.Itoa(first+got), ev.Result.ID, "in order, none skipped within the buffer")
			got++
		}
	}
}

// The ring is one for all subscribers, small until one falls behind, and
// never larger than the largest buffer.
func TestEventRingGrowsLazily(t *testing.T) {
	t.Parallel()
	b := new(broadcaster)
	seq := 0
	publishN(b, &seq, 5) // nobody subscribed: nothing kept
	require.Nil(t, b.ring)

	sub := b.Subscribe(0) // SubscribeBufferDefault
	other := b.Subscribe(0)
	defer sub.Close()
	defer other.Close()
	publishN(b, &seq, 10)
	require.Len(t, b.ring, ringMin, "a small ring to start with")
	require.Equal(t, 10, readAll(t, sub, 5))
	publishN(b, &seq, 1000) // sub reads nothing meanwhile
	require.Len(t, b.ring, SubscribeBufferDefault, "grown as sub fell behind")
	require.Equal(t, 1000, readAll(t, sub, 15), "nothing lost within the buffer")
	require.Zero(t, sub.Dropped())

	publishN(b, &seq, 3000)
	require.Len(t, b.ring, SubscribeBufferDefault, "never past the largest buffer")
	require.Equal(t, uint64(3000-SubscribeBufferDefault), sub.Dropped(), "what fell out of the buffer, counted before a read")
	require.Equal(t, SubscribeBufferDefault, readAll(t, sub, seq-SubscribeBufferDefault), "the newest, after a gap")
	require.Equal(t, uint64(3000-SubscribeBufferDefault), sub.Dropped())
	require.Equal(t, uint64(4010-SubscribeBufferDefault), other.Dropped(), "other never read")
}

// A subscriber's buffer bounds what it may read late, not the ring: a
// small one loses what a large one keeps.
func TestEventBufferPerSubscriber(t *testing.T) {
	t.Parallel()
	b := new(broadcaster)
	small, large := b.Subscribe(4), b.Subscribe(100)
	defer small.Close()
	defer large.Close()
	seq := 0
	publishN(b, &seq, 50)
	require.Equal(t, 4, readAll(t, small, 46))
	require.Equal(t, uint64(46), small.Dropped())
	require.Equal(t, 50, readAll(t, large, 0))
	require.Zero(t, large.Dropped())
	require.LessOrEqual(t, len(b.ring), 128)
}

// Subscribing allocates no buffer of events: a thousand subscriptions with
// the default buffer used to take 384 MiB (1,024 events of 384 bytes each).
func TestSubscribeAllocatesNoBuffer(t *testing.T) {
	b := new(broadcaster)
	subs := make([]*Subscription, 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range subs {
		subs[i] = b.Subscribe(0)
	}
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "1,000 subscriptions")
	seq := 0
	publishN(b, &seq, 100)
	require.LessOrEqual(t, len(b.ring), ringMin*2, "one ring for all of them, still small")
	for _, sub := range subs {
		sub.Close()
	}
	require.False(t, b.Subscribed())
	require.Nil(t, b.ring, "dropped with the last subscriber")
}

// Ready is closed when there is something to read, and a subscription ends
// after the events published before its backend closed.
func TestSubscriptionReadyAndClose(t *testing.T) {
	t.Parallel()
	b := new(broadcaster)
	sub := b.Subscribe(8)
	ready := sub.Ready()
	select {
	case <-ready:
		t.Fatal("ready with nothing to read")
	default:
	}
	seq := 0
	publishN(b, &seq, 3)
	<-ready
	<-sub.Ready() // still something to read
	b.Close()
	require.Equal(t, 3, readAll(t, sub, 0), "the events before Close")
	n, err := sub.Read(make([]Event, 1))
	require.Zero(t, n)
	require.ErrorIs(t, err, ErrSubscriptionClosed)
	<-sub.Ready()
	_, open := <-sub.C()
	require.False(t, open)
	sub.Close()
	sub.Close()

	late := b.Subscribe(1)
	_, err = late.Read(make([]Event, 1))
	require.ErrorIs(t, err, ErrSubscriptionClosed, "a subscription after Close is closed")
	late.Close()
	_, open = <-late.C()
	require.False(t, open)
}

// C delivers in order; Close ends its goroutine even while it waits for a
// reader, and a C taken after Close is closed.
func TestSubscriptionC(t *testing.T) {
	t.Parallel()
	b := new(broadcaster)
	sub := b.Subscribe(0)
	seq := 0
	publishN(b, &seq, 100)
	c := sub.C()
	for i := range 50 {
		require.Equal(t, strconv.Itoa(i), (<-c).Result.ID)
	}
	sub.Close() // the pump waits to send the 51st: goleak checks it ended
	for range c {
	}
	closed := b.Subscribe(0)
	closed.Close()
	_, open := <-closed.C()
	require.False(t, open)
}
