package localtasks_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/testkit"
	"github.com/localtasks/localtasks/localtaskstest"
)

// In-process test tasks: their arguments may carry channels and pointers,
// which only a backend in this process can pass.
var (
	// gate blocks until its channel is closed or its ctx is done.
	gate = localtasks.Define("test.gate", func(ctx context.Context, a gateArgs) (string, error) {
		if a.started != nil {
			close(a.started)
		}
		select {
		case <-a.release:
			return "released", nil
		case <-ctx.Done():
			if a.ignoreCtx {
				<-a.release
				return "released late", nil
			}
			return "", ctx.Err()
		}
	})
	// note appends its number to a log, to see the order tasks ran in.
	note = localtasks.Define("test.note", func(ctx context.Context, a noteArgs) (int, error) {
		a.log.add(a.n)
		return a.n, nil
	})
)

type gateArgs struct {
	started   chan struct{}
	release   chan struct{}
	ignoreCtx bool
}

type noteArgs struct {
	n   int
	log *orderLog
}

type orderLog struct {
	mu sync.Mutex
	ns []int
}

func (l *orderLog) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ns = append(l.ns, n)
}

func (l *orderLog) get() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.ns...)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPool(t *testing.T, cfg localtasks.ThreadPoolConfig) *localtasks.ThreadPoolBackend {
	t.Helper()
	b, err := localtasks.NewThreadPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t))) })
	return b
}

// occupy blocks every one of n workers of b with a gate and returns the
// channel that releases them.
func occupy(t *testing.T, b localtasks.Backend, n int) chan struct{} {
	t.Helper()
	ctx := testCtx(t)
	release := make(chan struct{})
	for range n {
		started := make(chan struct{})
		_, err := gate.Enqueue(ctx, b, gateArgs{started: started, release: release})
		require.NoError(t, err)
		<-started
	}
	return release
}

func TestPriorityOrderFIFOWithinPriority(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	release := occupy(t, b, 1)

	log := &orderLog{}
	prios := []int{0, 10, -5, 10, 100, 0, -100, 10}
	var hs []localtasks.Handle[int]
	for i, p := range prios {
		h, err := note.Using(localtasks.WithPriority(p)).Enqueue(ctx, b, noteArgs{n: i, log: log})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	close(release)
	for _, h := range hs {
		_, err := h.Wait(ctx)
		require.NoError(t, err)
	}
	// 100 first; then the three 10s in enqueue order; the two 0s; -5; -100.
	require.Equal(t, []int{4, 1, 3, 7, 0, 5, 2, 6}, log.get())
}

func TestCancelQueuedNeverRuns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	release := occupy(t, b, 1)
	log := &orderLog{}
	victim, err := note.Enqueue(ctx, b, noteArgs{n: 1, log: log})
	require.NoError(t, err)
	after, err := note.Enqueue(ctx, b, noteArgs{n: 2, log: log})
	require.NoError(t, err)
	st, err := victim.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, st)

	require.NoError(t, victim.Cancel(ctx))
	_, err = victim.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled, "a queued task is cancelled at once, before a worker frees up")
	close(release)
	_, err = after.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, []int{2}, log.get(), "the cancelled task must never run")
	res, err := victim.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Zero(t, res.Attempts)
}

func TestCancelRunningTaskThatIgnoresCtx(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	started, release := make(chan struct{}), make(chan struct{})
	h, err := gate.Enqueue(ctx, b, gateArgs{started: started, release: release, ignoreCtx: true})
	require.NoError(t, err)
	<-started
	require.NoError(t, h.Cancel(ctx))
	st, err := h.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusRunning, st, "it stays RUNNING until it returns")
	close(release)
	_, err = h.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
}

func TestCloseLetsRunningFinishAndCancelsQueued(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	running, err := gate.Enqueue(ctx, b, gateArgs{started: started, release: release})
	require.NoError(t, err)
	<-started
	queued, err := note.Enqueue(ctx, b, noteArgs{n: 1, log: &orderLog{}})
	require.NoError(t, err)

	closed := make(chan error, 1)
	go func() { closed <- b.Close(ctx) }()
	_, err = queued.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled, "Close cancels queued tasks at once")
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a task was still running", err)
	default:
	}
	close(release)
	require.NoError(t, <-closed)
	v, err := running.Wait(ctx)
	require.NoError(t, err, "the running task was allowed to finish")
	require.Equal(t, "released", v)
	_, err = note.Enqueue(ctx, b, noteArgs{})
	require.ErrorIs(t, err, localtasks.ErrClosed)
}

func TestNamedStateIsShared(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := localtasks.ThreadPoolConfig{Config: localtasks.Config{Name: "test.shared"}, MaxWorkers: 2}
	a, err := localtasks.NewThreadPool(cfg)
	require.NoError(t, err)
	b, err := localtasks.NewThreadPool(cfg)
	require.NoError(t, err)
	require.Equal(t, "test.shared", b.Name())

	h, err := note.Enqueue(ctx, a, noteArgs{n: 5, log: &orderLog{}})
	require.NoError(t, err)
	got, err := note.GetResult(ctx, b, h.ID())
	require.NoError(t, err, "a result enqueued through one backend is readable through another of the same Name")
	v, err := got.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, v)

	_, err = localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg.Config, MaxWorkers: 3})
	require.ErrorIs(t, err, localtasks.ErrConfig)
	require.Contains(t, err.Error(), "MaxWorkers 2")
	_, err = localtasks.NewImmediate(cfg.Config)
	require.ErrorIs(t, err, localtasks.ErrConfig, "another kind of backend under the same Name")

	require.NoError(t, a.Close(ctx))
	_, err = note.Enqueue(ctx, a, noteArgs{})
	require.ErrorIs(t, err, localtasks.ErrClosed, "a closed holder takes nothing")
	h2, err := note.Enqueue(ctx, b, noteArgs{n: 6, log: &orderLog{}})
	require.NoError(t, err, "the state lives while another holder is open")
	_, err = h2.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Close(ctx))

	// The last Close freed the name: a new configuration is fine now.
	c, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{Config: cfg.Config, MaxWorkers: 3})
	require.NoError(t, err)
	_, err = c.GetResult(ctx, h.ID())
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "a new state starts empty")
	require.NoError(t, c.Close(ctx))
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  localtasks.ThreadPoolConfig
		want string
	}{
		{"negative workers", localtasks.ThreadPoolConfig{MaxWorkers: -1}, "MaxWorkers -1"},
		{"negative results", localtasks.ThreadPoolConfig{Config: localtasks.Config{MaxResults: -1}}, "MaxResults -1"},
		{"empty queue", localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: []string{"a", ""}}}, "empty"},
		{"duplicate queue", localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: []string{"a", "a"}}}, `"a" is listed twice`},
		{"nil middleware", localtasks.ThreadPoolConfig{Config: localtasks.Config{Middleware: []localtasks.Middleware{nil}}}, "Middleware 0 is nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := localtasks.NewThreadPool(c.cfg)
			require.ErrorIs(t, err, localtasks.ErrConfig, c.name)
			require.Contains(t, err.Error(), c.want, c.name)
			require.Nil(t, b)
		})
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Queues: []string{"default", "emails"}}})
	h, err := note.Using(localtasks.WithQueue("emails")).Enqueue(ctx, b, noteArgs{n: 1, log: &orderLog{}})
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "emails", res.Queue)
	_, err = note.Using(localtasks.WithQueue("sms")).Enqueue(ctx, b, noteArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask)
	require.Contains(t, err.Error(), `"sms"`)
	require.Contains(t, err.Error(), "Config.Queues", "the error says how to fix it")
}

func TestSlowSubscriberDoesNotStallPool(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 2})
	slow := b.Subscribe(1) // never read
	defer slow.Close()
	var hs []localtasks.Handle[int]
	for i := range 200 {
		h, err := note.Enqueue(ctx, b, noteArgs{n: i, log: &orderLog{}})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		_, err := h.Wait(ctx)
		require.NoError(t, err)
	}
	require.Positive(t, slow.Dropped(), "the events that did not fit were dropped and counted")
	var buf [4]localtasks.Event
	n, err := slow.Read(buf[:])
	require.NoError(t, err)
	require.Equal(t, 1, n, "a buffer of 1 keeps the newest event")
	require.Equal(t, localtasks.EventFinished, buf[0].Kind)
}

var logging = localtasks.Define("test.logging", func(ctx context.Context, _ struct{}) (struct{}, error) {
	localtasks.Logger(ctx).Info("hello from a task")
	return struct{}{}, nil
})

func TestLoggerCarriesTaskAttributes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var buf testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Logger: logger}})
	h, err := logging.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	_, err = h.Wait(ctx)
	require.NoError(t, err)
	out := buf.String()
	require.Contains(t, out, "hello from a task")
	require.Contains(t, out, "task=test.logging")
	require.Contains(t, out, "task_id="+h.ID())
	require.Contains(t, out, "attempt=1")
	require.Equal(t, slog.Default(), localtasks.Logger(context.Background()), "outside a task, the default logger")
}

var deadline = localtasks.Define("test.deadline", func(ctx context.Context, _ struct{}) (time.Duration, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return 0, errors.New("no deadline")
	}
	return time.Until(d), nil
})

func TestTimeoutSetsDeadline(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{})
	h, err := deadline.Using(localtasks.WithTimeout(time.Hour)).Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	left, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Greater(t, left, 59*time.Minute)
	require.LessOrEqual(t, left, time.Hour)
}

func TestWaitEndsWithCtx(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	release := occupy(t, b, 1)
	defer close(release)
	h, err := note.Enqueue(ctx, b, noteArgs{log: &orderLog{}})
	require.NoError(t, err)
	short, cancel := context.WithCancel(ctx)
	cancel()
	_, err = h.Wait(short)
	require.ErrorIs(t, err, context.Canceled)

	var zero localtasks.Handle[int]
	_, err = zero.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound)
}

func TestHandlesAcrossGoroutines(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 4, Config: localtasks.Config{MaxResults: 10000}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				h, err := note.Enqueue(ctx, b, noteArgs{n: g*1000 + i, log: &orderLog{}})
				if err != nil {
					t.Error(err)
					return
				}
				if v, err := h.Wait(ctx); err != nil || v != g*1000+i {
					t.Errorf("task %d: got %d, %v", g*1000+i, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestExponentialBackoffSchedulesRetries(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := localtaskstest.NewFakeClock(start)
	b := newPool(t, localtasks.ThreadPoolConfig{Config: localtasks.Config{Test: localtasks.TestConfig{Clock: clock}}, MaxWorkers: 1})
	policy := localtasks.RetryPolicy{MaxAttempts: 4, Delay: time.Second, MaxDelay: 3 * time.Second, Multiplier: 2}
	h, err := localtaskstest.Flaky.Using(localtasks.WithRetry(policy)).
		Enqueue(ctx, b, localtaskstest.FlakyArgs{Message: "again", FailAttempts: 3})
	require.NoError(t, err)
	// Waits of 1s, then 2s, then 4s capped at 3s.
	at := start
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		require.NoError(t, clock.BlockUntil(ctx, 1))
		res, err := h.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusScheduled, res.Status)
		require.Equal(t, at.Add(wait), res.RunAfter, "after attempt %d", res.Attempts)
		clock.Advance(wait)
		at = at.Add(wait)
	}
	v, err := h.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, v)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, start.Add(6*time.Second), res.LastAttemptedAt)
}

// A run-after time the record cannot hold (its times are nanoseconds from
// the state's epoch) is refused at Enqueue, not shown later as a wrong date;
// one a century away is fine.
func TestEnqueueRefusesRunAfterOutOfRange(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := newPool(t, localtasks.ThreadPoolConfig{MaxWorkers: 1})
	now := time.Now()
	for i, opt := range []localtasks.Option{
		localtasks.WithRunAt(now.AddDate(300, 0, 0)),
		localtasks.WithRunAt(now.AddDate(-300, 0, 0)),
		localtasks.WithRunAt(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)),
		localtasks.WithDelay(time.Duration(math.MaxInt64)),
	} {
		_, err := benchNoop.Using(opt).Enqueue(ctx, b, 1)
		require.ErrorIs(t, err, localtasks.ErrInvalidTask, "option %d", i)
		require.ErrorContains(t, err, "more than 100 years from now")
	}
	require.Zero(t, b.Counters().Enqueued, "nothing was queued")

	far := now.AddDate(99, 0, 0)
	h, err := benchNoop.Using(localtasks.WithRunAt(far)).Enqueue(ctx, b, 1)
	require.NoError(t, err)
	res, err := h.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.WithinDuration(t, far, res.RunAfter, time.Microsecond, "shown as the date asked for")
}
