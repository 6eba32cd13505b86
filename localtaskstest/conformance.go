// Package localtaskstest helps test code that uses localtasks, and backends
// that implement it: a FakeClock to move time without sleeping, assertions
// on what a RecordingBackend recorded (RequireEnqueued and its kin), and
// RunConformance, the suite every Backend in this module passes.
package localtaskstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
)

// Epoch is the time a conformance backend's FakeClock starts at.
var Epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// NewBackend builds the backend under test from cfg. It must pass cfg's
// Clock, MaxResults, MaxFailedResults and Middleware on (Middleware unless
// its Traits say NoMiddleware); the suite closes the backend.
type NewBackend func(t *testing.T, cfg localtasks.Config) localtasks.Backend

// RunConformance checks that the backends newBackend builds behave as the
// Backend interface says, for each capability they declare. A backend whose
// Wait fails at once with errors.ErrUnsupported is taken to record tasks
// without running them, and is checked for that.
func RunConformance(t *testing.T, newBackend NewBackend) {
	RunConformanceWith(t, newBackend, Traits{})
}

// Traits describe a backend whose runs live outside the process, such as
// one on a database, where the suite's defaults (the package's own
// backends) do not hold. The zero value is the defaults.
type Traits struct {
	// CheckID checks a run ID; nil requires a UUID.
	CheckID func(id string) error
	// KeepsResults: results are kept by a store of their own (a database
	// with its own retention), not evicted by Config.MaxResults. The suite
	// checks that they outlive MaxResults in place of the LRU case.
	KeepsResults bool
	// DurableClose: Close leaves runs to other workers rather than
	// cancelling them: a running one that Close gives up on goes back to
	// its queue, and queued and scheduled ones stay. The suite checks that
	// in place of CloseCancelsRunning.
	DurableClose bool
	// NoMiddleware: the backend does not run Config.Middleware (its own
	// configuration has no place for it). The suite then skips the
	// Middleware case.
	NoMiddleware bool
}

// RunConformanceWith is RunConformance for a backend with traits.
func RunConformanceWith(t *testing.T, newBackend NewBackend, traits Traits) {
	h := &harness{newBackend: newBackend, traits: traits}
	b, _, ctx := h.setup(t, 0)
	r, err := b.Enqueue(ctx, Echo.Definition(), EchoArgs{}, localtasks.Options{})
	require.NoError(t, err, "enqueue of a valid task")
	_, err = b.Wait(ctx, r.ID)
	h.runs = !errors.Is(err, errors.ErrUnsupported)
	h.caps = b.Capabilities()
	h.probe = b
	_, h.events = b.(localtasks.Subscriber)
	_, h.strikes = b.(localtasks.Striker)
	_, snaps := b.(localtasks.Snapshotter)
	_, drains := b.(localtasks.Drainer)
	h.snapshots = snaps && drains

	for _, c := range slices.Concat(h.cases(), h.schedulingCases(), h.flowCases(), h.tagCases(), h.insideCases(), h.watchCases(), h.periodicCases(), h.controlCases()) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, h)
		})
	}
}

type harness struct {
	newBackend NewBackend
	runs       bool // the backend runs tasks
	events     bool // it implements localtasks.Subscriber
	strikes    bool // it implements localtasks.Striker
	snapshots  bool // it implements localtasks.Snapshotter and Drainer
	caps       localtasks.Capabilities
	traits     Traits
	probe      localtasks.Backend // the backend built first, for what it implements
}

type testCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// setup builds a backend with a fake clock, closed at the end of the test.
func (h *harness) setup(t *testing.T, maxResults int) (localtasks.Backend, *FakeClock, context.Context) {
	t.Helper()
	return h.setupWith(t, localtasks.Config{MaxResults: maxResults})
}

// setupWith is setup for a backend built from cfg, with a fake clock.
func (h *harness) setupWith(t *testing.T, cfg localtasks.Config) (localtasks.Backend, *FakeClock, context.Context) {
	t.Helper()
	clock := NewFakeClock(Epoch)
	cfg.Test.Clock = clock
	b := h.newBackend(t, cfg)
	require.NotNil(t, b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.Close(ctx), "closing the backend after the test")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return b, clock, ctx
}

// subscribe subscribes to b's events, closed at the end of the test, if b
// delivers events; it returns nil otherwise.
func subscribe(t *testing.T, b localtasks.Backend) *localtasks.Subscription {
	s, ok := b.(localtasks.Subscriber)
	if !ok {
		return nil
	}
	sub := s.Subscribe(64)
	t.Cleanup(sub.Close)
	return sub
}

// started waits for the started event of the run with that ID.
func started(t *testing.T, ctx context.Context, sub *localtasks.Subscription, id string) {
	t.Helper()
	for {
		select {
		case ev, ok := <-sub.C():
			require.True(t, ok, "subscription closed before task %s started", id)
			if ev.Kind == localtasks.EventStarted && ev.Result.ID == id {
				return
			}
		case <-ctx.Done():
			t.Fatalf("task %s did not start: %v", id, ctx.Err())
		}
	}
}

// enqueueAsync enqueues from another goroutine, for backends whose Enqueue
// runs the task while the test moves the clock.
func enqueueAsync[A, R any](ctx context.Context, task *localtasks.Task[A, R], b localtasks.Backend, args A) <-chan localtasks.Handle[R] {
	c := make(chan localtasks.Handle[R], 1)
	go func() {
		h, err := task.Enqueue(ctx, b, args)
		if err != nil {
			panic(err)
		}
		c <- h
	}()
	return c
}

func (h *harness) cases() []testCase {
	cs := []testCase{
		{"EnqueueReturnsHandle", testEnqueueReturnsHandle},
		{"UnknownID", testUnknownID},
		{"Mismatch", testMismatch},
		{"InvalidRequests", testInvalidRequests},
		{"Unsupported", testUnsupported},
		{"Close", testClose},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"NeverEvictsUnfinished", testNeverEvictsUnfinished},
	}
	if h.caps.DiscardResult && h.caps.Cancel && (h.caps.Defer || !h.runs) && !h.traits.KeepsResults {
		cs = append(cs, testCase{"DiscardResultUntilFinished", testDiscardResultUntilFinished})
	}
	if (h.runs || h.caps.Cancel) && !h.traits.KeepsResults {
		cs = append(cs, testCase{"ResultTTL", testResultTTL})
	}
	if !h.runs {
		return append(cs, testCase{"NeverRuns", testNeverRuns})
	}
	cs = append(cs,
		testCase{"Success", testSuccess},
		testCase{"Failure", testFailure},
		testCase{"Panic", testPanic},
		testCase{"TaskContext", testTaskContext},
		testCase{"CancelFinished", testCancelFinished},
		testCase{"Progress", testProgress},
	)
	if !h.traits.NoMiddleware {
		cs = append(cs, testCase{"Middleware", testMiddleware})
	}
	if h.traits.KeepsResults {
		cs = append(cs, testCase{"KeepsResults", testKeepsResults})
	} else {
		cs = append(cs, testCase{"LRU", testLRU}, testCase{"FailuresKeptApart", testFailuresKeptApart})
		if h.caps.DiscardResult {
			cs = append(cs, testCase{"DiscardResult", testDiscardResult})
		}
	}
	if h.caps.Retry {
		cs = append(cs, testCase{"Retry", testRetry}, testCase{"RetryExhausted", testRetryExhausted})
	}
	if h.caps.Timeout {
		cs = append(cs, testCase{"Timeout", testTimeout})
	}
	if h.caps.MaxQueued && h.caps.Defer && h.caps.Cancel {
		cs = append(cs, testCase{"MaxQueued", testMaxQueued})
	}
	if h.caps.Defer {
		cs = append(cs, testCase{"Deferred", testDeferred})
		if h.caps.Retry {
			cs = append(cs, testCase{"RetryDelay", testRetryDelay})
		}
	}
	if h.caps.Cancel && h.caps.Defer {
		cs = append(cs, testCase{"CancelScheduled", testCancelScheduled})
	}
	if h.events {
		cs = append(cs, testCase{"Events", testEvents})
	}
	if h.caps.CancelRunning {
		cs = append(cs, testCase{"CancelRunning", testCancelRunning})
		if h.traits.DurableClose {
			cs = append(cs, testCase{"CloseReleasesRunning", testCloseReleasesRunning})
		} else {
			cs = append(cs, testCase{"CloseCancelsRunning", testCloseCancelsRunning})
		}
	}
	return cs
}

func testEnqueueReturnsHandle(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	args := EchoArgs{N: 7, Text: "seven"}
	hd, err := Echo.Enqueue(ctx, b, args)
	require.NoError(t, err)
	if h.traits.CheckID != nil {
		require.NoError(t, h.traits.CheckID(hd.ID()), "the ID %q", hd.ID())
	} else {
		_, err = uuid.Parse(hd.ID())
		require.NoError(t, err, "the ID must be a UUID")
	}

	res, err := b.GetResult(ctx, hd.ID())
	require.NoError(t, err)
	require.Equal(t, hd.ID(), res.ID)
	require.Equal(t, Echo.Name(), res.Task)
	require.Equal(t, b.Name(), res.Backend)
	require.Equal(t, localtasks.QueueDefault, res.Queue)
	require.Equal(t, args, res.Args)
	require.Equal(t, Epoch, res.EnqueuedAt, "EnqueuedAt must come from the backend's clock")
	require.NotZero(t, res.Status)

	st, err := hd.Status(ctx)
	require.NoError(t, err)
	require.NotZero(t, st)
}

func testUnknownID(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	for _, c := range []struct{ name, id string }{
		{"unknown UUID", uuid.NewString()},
		{"not a task ID", "not-a-task-id"},
		{"empty ID", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := c.id
			_, err := b.GetResult(ctx, id)
			require.ErrorIs(t, err, localtasks.ErrResultNotFound, "GetResult(%q)", id)
			_, err = Echo.GetResult(ctx, b, id)
			require.ErrorIs(t, err, localtasks.ErrResultNotFound, "typed GetResult(%q)", id)
			require.ErrorIs(t, b.Cancel(ctx, id), localtasks.ErrResultNotFound, "Cancel(%q)", id)
			_, err = b.Wait(ctx, id)
			require.ErrorIs(t, err, localtasks.ErrResultNotFound, "Wait(%q)", id)
		})
	}
}

func testMismatch(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	_, err = Flaky.GetResult(ctx, b, hd.ID())
	require.ErrorIs(t, err, localtasks.ErrResultMismatch)
	require.Contains(t, err.Error(), Echo.Name(), "the error names the task the ID belongs to")
	got, err := Echo.GetResult(ctx, b, hd.ID())
	require.NoError(t, err)
	require.Equal(t, hd.ID(), got.ID())
}

func testInvalidRequests(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	def := Echo.Definition()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		def  localtasks.Definition
		args any
		opts localtasks.Options
		want error
	}{
		{"priority too high", ctx, def, EchoArgs{}, localtasks.Options{Priority: localtasks.MaxPriority + 1}, localtasks.ErrInvalidTask},
		{"priority too low", ctx, def, EchoArgs{}, localtasks.Options{Priority: localtasks.MinPriority - 1}, localtasks.ErrInvalidTask},
		{"unknown queue", ctx, def, EchoArgs{}, localtasks.Options{Queue: "no-such-queue"}, localtasks.ErrInvalidTask},
		{"negative timeout", ctx, def, EchoArgs{}, localtasks.Options{Timeout: -time.Second}, localtasks.ErrInvalidTask},
		{"negative delay", ctx, def, EchoArgs{}, localtasks.Options{Delay: -time.Second}, localtasks.ErrInvalidTask},
		{"bad jitter", ctx, def, EchoArgs{}, localtasks.Options{Retry: localtasks.RetryPolicy{MaxAttempts: 2, Jitter: 2}}, localtasks.ErrInvalidTask},
		{"nil task", ctx, nil, EchoArgs{}, localtasks.Options{}, localtasks.ErrInvalidTask},
		{"wrong argument type", ctx, def, "not EchoArgs", localtasks.Options{}, localtasks.ErrInvalidTask},
		{"cancelled ctx", cancelled, def, EchoArgs{}, localtasks.Options{}, context.Canceled},
	}
	// The subtests run one after another, before the check of events
	// below that none of them queued anything.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := b.Enqueue(c.ctx, c.def, c.args, c.opts)
			require.ErrorIs(t, err, c.want, c.name)
			require.Empty(t, r.ID, "%s: a refused enqueue returns no ID", c.name)
		})
	}
	_, err := Echo.Using(localtasks.WithPriority(500)).Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrInvalidTask, "typed enqueue with a bad priority")
	require.Contains(t, err.Error(), "-100", "the error says what range to use")

	if sub != nil {
		valid, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
		require.NoError(t, err)
		select {
		case ev := <-sub.C():
			require.Equal(t, localtasks.EventEnqueued, ev.Kind)
			require.Equal(t, valid.ID(), ev.Result.ID, "a refused request must not have been queued")
		case <-ctx.Done():
			t.Fatal("no event for a valid enqueue")
		}
	}
}

func testUnsupported(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	c := b.Capabilities()
	cases := []struct {
		name      string
		supported bool
		opt       localtasks.Option
	}{
		{"WithDelay without Defer", c.Defer, localtasks.WithDelay(time.Minute)},
		{"WithRunAt without Defer", c.Defer, localtasks.WithRunAt(Epoch.Add(time.Hour))},
		{"WithPriority without Priority", c.Priority, localtasks.WithPriority(5)},
		{"WithRetry without Retry", c.Retry, localtasks.WithRetry(localtasks.FixedRetry(3, 0))},
		{"WithTimeout without Timeout", c.Timeout, localtasks.WithTimeout(time.Minute)},
		{"WithStartWithin without Deadline", c.Deadline, localtasks.WithStartWithin(time.Minute)},
		{"WithDiscardResult without DiscardResult", c.DiscardResult, localtasks.WithDiscardResult()},
		{"WithTags without Tags", c.Tags, localtasks.WithTags("t")},
	}
	for _, tc := range cases {
		if tc.supported {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := Echo.Using(tc.opt).Enqueue(ctx, b, EchoArgs{})
			require.ErrorIs(t, err, errors.ErrUnsupported, "%s: an option the backend does not support", tc.name)
		})
	}
}

func testClose(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	if h.runs {
		_, err = hd.Wait(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, b.Close(ctx))
	require.NoError(t, b.Close(ctx), "a second Close is not an error")
	_, err = Echo.Enqueue(ctx, b, EchoArgs{})
	require.ErrorIs(t, err, localtasks.ErrClosed)
	res, err := b.GetResult(ctx, hd.ID())
	require.NoError(t, err, "results stay readable after Close")
	require.True(t, res.Status.Finished(), "Close leaves every task final, got %v", res.Status)
}

func testSnapshotIsolation(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	var id string
	if h.runs {
		hd, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "boom", FailAttempts: 1})
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		require.Error(t, err)
		id = hd.ID()
	} else {
		hd, err := Echo.Enqueue(ctx, b, EchoArgs{})
		require.NoError(t, err)
		id = hd.ID()
	}
	before, err := b.GetResult(ctx, id)
	require.NoError(t, err)
	mutated := before
	mutated.Status = localtasks.StatusSuccessful
	mutated.ID = "changed"
	for i := range mutated.WorkerIDs {
		mutated.WorkerIDs[i] = "changed"
	}
	for i := range mutated.Errors {
		mutated.Errors[i].Message = "changed"
	}
	after, err := b.GetResult(ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, after.ID)
	require.NotEqual(t, localtasks.StatusSuccessful, after.Status)
	for _, w := range after.WorkerIDs {
		require.NotEqual(t, "changed", w)
	}
	for _, e := range after.Errors {
		require.Equal(t, "boom", e.Message)
	}
}

func testNeverEvictsUnfinished(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 1)
	var unfinished []string
	if h.caps.Defer {
		for range 3 {
			hd, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{})
			require.NoError(t, err)
			unfinished = append(unfinished, hd.ID())
		}
	} else if !h.runs {
		for range 3 {
			hd, err := Echo.Enqueue(ctx, b, EchoArgs{})
			require.NoError(t, err)
			unfinished = append(unfinished, hd.ID())
		}
	}
	if h.runs { // push finished results through the store of one
		for i := range 4 {
			hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: i})
			require.NoError(t, err)
			_, err = hd.Wait(ctx)
			require.NoError(t, err)
		}
	}
	for _, id := range unfinished {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err, "an unfinished run must never be evicted")
		require.False(t, res.Status.Finished())
	}
}

func testNeverRuns(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "would fail"})
	require.NoError(t, err)
	res, err := b.GetResult(ctx, hd.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusReady, res.Status)
	require.Zero(t, res.Attempts)
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

func testSuccess(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	args := EchoArgs{N: 42, Text: "answer"}
	hd, err := Echo.Enqueue(ctx, b, args)
	require.NoError(t, err)
	got, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, args, got)

	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, args, res.Value)
	require.Equal(t, 1, res.Attempts)
	require.Len(t, res.WorkerIDs, 1)
	require.NotEmpty(t, res.WorkerIDs[0])
	require.Empty(t, res.Errors)
	require.False(t, res.StartedAt.IsZero())
	require.Equal(t, res.StartedAt, res.LastAttemptedAt)
	require.False(t, res.FinishedAt.Before(res.StartedAt))
	require.False(t, res.StartedAt.Before(res.EnqueuedAt))
}

func testFailure(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "disk full", FailAttempts: 1})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	var te *localtasks.TaskError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "disk full", te.Message)
	require.Equal(t, "*errors.errorString", te.Type)
	require.Empty(t, te.Stack)
	require.Equal(t, 1, te.Attempt)

	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Nil(t, res.Value)
	require.Len(t, res.Errors, 1)
	require.False(t, res.FinishedAt.IsZero())
}

func testPanic(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "kaboom", FailAttempts: 1, Panic: true})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	var te *localtasks.TaskError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "kaboom", te.Message)
	require.Equal(t, "string", te.Type, "Type is the panic value's type")
	require.Contains(t, te.Stack, "goroutine", "a panic keeps its stack")
	require.Contains(t, te.Error(), "panic")

	// The pool survives a panic.
	ok, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	v, err := ok.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v.N)
}

func testTaskContext(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Info.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	got, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, InfoResult{ID: hd.ID(), Task: Info.Name(), Attempt: 1}, got)
}

func testProgress(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := subscribe(t, b)
	hd, err := Steps.Enqueue(ctx, b, 3)
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.NoError(t, err)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Progress.Done, "the latest progress is on the result")
	require.Equal(t, int64(3), res.Progress.Total)
	require.Equal(t, "step 3", res.Progress.Message)
	require.False(t, res.Progress.At.IsZero())
	if sub == nil {
		return
	}
	var seen []int64
	for {
		select {
		case ev := <-sub.C():
			if ev.Result.ID != hd.ID() {
				continue
			}
			if ev.Kind == localtasks.EventProgress {
				seen = append(seen, ev.Result.Progress.Done)
			}
			if ev.Kind == localtasks.EventFinished {
				require.Equal(t, []int64{1, 2, 3}, seen, "each report is an event, in order, before the finish")
				return
			}
		case <-ctx.Done():
			t.Fatalf("progress events so far: %v", seen)
		}
	}
}

func testLRU(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 2)
	run := func(n int) string {
		hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: n})
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		require.NoError(t, err)
		return hd.ID()
	}
	a, bb := run(1), run(2)
	_, err := b.GetResult(ctx, a) // a is now more recent than bb
	require.NoError(t, err)
	run(3)
	_, err = b.GetResult(ctx, a)
	require.NoError(t, err, "a result read recently must survive: the store is an LRU, not a FIFO")
	_, err = b.GetResult(ctx, bb)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "the least recently used result is evicted")
}

// testFailuresKeptApart checks that the runs that did not succeed are kept
// apart from the successful ones, under Config.MaxFailedResults: a burst
// of successes evicts no failure, and failures evict the oldest failure.
func testFailuresKeptApart(t *testing.T, h *harness) {
	b, _, ctx := h.setupWith(t, localtasks.Config{MaxResults: 2, MaxFailedResults: 2})
	fail := func(msg string) string {
		hd, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: msg, FailAttempts: 1})
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		require.Error(t, err)
		return hd.ID()
	}
	var oks []string
	first := fail("first")
	for i := range 5 {
		hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: i})
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		require.NoError(t, err)
		oks = append(oks, hd.ID())
	}
	res, err := b.GetResult(ctx, first)
	require.NoError(t, err, "a burst of successes beyond MaxResults must not evict a failure")
	require.Equal(t, localtasks.StatusFailed, res.Status)
	_, err = b.GetResult(ctx, oks[0])
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "MaxResults still bounds the successes")

	second, third := fail("second"), fail("third")
	_, err = b.GetResult(ctx, first)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "MaxFailedResults evicts the least recently used failure")
	for _, id := range []string{second, third, oks[3], oks[4]} {
		_, err = b.GetResult(ctx, id)
		require.NoError(t, err, "failures evict no success, and successes no failure")
	}
}

// testDiscardResult checks WithDiscardResult on a run that finishes: its
// EventFinished carries the result, then the result is gone, and it
// evicted no other result.
func testDiscardResult(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 1)
	kept, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	_, err = kept.Wait(ctx)
	require.NoError(t, err)
	sub := subscribe(t, b)
	hd, err := Echo.Using(localtasks.WithDiscardResult()).Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)
	switch d, drains := b.(localtasks.Drainer); {
	case sub != nil:
		for fin := false; !fin; {
			select {
			case ev, ok := <-sub.C():
				require.True(t, ok, "subscription closed before task %s finished", hd.ID())
				if fin = ev.Kind == localtasks.EventFinished && ev.Result.ID == hd.ID(); fin {
					require.Equal(t, localtasks.StatusSuccessful, ev.Result.Status)
					require.Equal(t, EchoArgs{N: 2}, ev.Result.Value, "the event carries the final result")
				}
			case <-ctx.Done():
				t.Fatalf("task %s did not finish: %v", hd.ID(), ctx.Err())
			}
		}
	case drains:
		require.NoError(t, d.Drain(ctx))
	default:
		t.Skip("the backend has neither events nor Drain: the test cannot tell when the run finished")
	}
	_, err = hd.Result(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "a run that keeps no result is gone once finished")
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "a Wait that starts after the run finished finds nothing")
	res, err := kept.Result(ctx)
	require.NoError(t, err, "a run that keeps no result evicts no other result")
	require.Equal(t, EchoArgs{N: 1}, res.Value)
}

// testResultTTL checks that Config.ResultTTL drops every finished result,
// successful or not, that long after its run finished; on a backend that
// runs nothing, a cancelled run.
func testResultTTL(t *testing.T, h *harness) {
	b, clock, ctx := h.setupWith(t, localtasks.Config{ResultTTL: time.Minute})
	var ids []string
	if h.runs {
		ok, err := Echo.Enqueue(ctx, b, EchoArgs{N: 1})
		require.NoError(t, err)
		_, err = ok.Wait(ctx)
		require.NoError(t, err)
		failed, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "boom", FailAttempts: 1})
		require.NoError(t, err)
		_, err = failed.Wait(ctx)
		require.Error(t, err)
		ids = append(ids, ok.ID(), failed.ID())
	} else {
		hd, err := Echo.Enqueue(ctx, b, EchoArgs{})
		require.NoError(t, err)
		require.NoError(t, hd.Cancel(ctx))
		ids = append(ids, hd.ID())
	}
	clock.Advance(time.Minute - time.Nanosecond)
	for _, id := range ids {
		_, err := b.GetResult(ctx, id)
		require.NoError(t, err, "kept until ResultTTL after it finished")
	}
	clock.Advance(time.Nanosecond)
	for _, id := range ids {
		_, err := b.GetResult(ctx, id)
		require.ErrorIs(t, err, localtasks.ErrResultNotFound, "dropped ResultTTL after it finished")
	}
}

// testDiscardResultUntilFinished checks that a run with WithDiscardResult
// is there, as any other, until it finishes: here cancelled before it
// starts.
func testDiscardResultUntilFinished(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	task := Echo.Using(localtasks.WithDiscardResult())
	if h.runs {
		task = task.Using(localtasks.WithDelay(time.Hour))
	}
	hd, err := task.Enqueue(ctx, b, EchoArgs{N: 3})
	require.NoError(t, err)
	res, err := hd.Result(ctx)
	require.NoError(t, err, "a run that keeps no result is there until it finishes")
	require.False(t, res.Status.Finished())
	require.NoError(t, hd.Cancel(ctx))
	_, err = hd.Result(ctx)
	require.ErrorIs(t, err, localtasks.ErrResultNotFound, "cancelled, it is gone")
}

func testCancelFinished(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Echo.Enqueue(ctx, b, EchoArgs{})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, hd.Cancel(ctx), localtasks.ErrFinished)
}

func testRetry(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Flaky.Using(localtasks.WithRetry(localtasks.FixedRetry(3, 0))).
		Enqueue(ctx, b, FlakyArgs{Message: "transient", FailAttempts: 2})
	require.NoError(t, err)
	got, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, got, "the third attempt succeeds")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusSuccessful, res.Status)
	require.Equal(t, 3, res.Attempts)
	require.Len(t, res.WorkerIDs, 3)
	require.Len(t, res.Errors, 2)
	require.Equal(t, 1, res.Errors[0].Attempt)
	require.Equal(t, 2, res.Errors[1].Attempt)
}

func testRetryExhausted(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	hd, err := Flaky.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 0))).
		Enqueue(ctx, b, FlakyArgs{Message: "permanent", FailAttempts: 10})
	require.NoError(t, err)
	_, err = hd.Wait(ctx)
	require.Error(t, err)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, 2, res.Attempts)
	require.Len(t, res.Errors, 2)
}

func testTimeout(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	c := enqueueAsync(ctx, Block.Using(localtasks.WithTimeout(5*time.Second)), b, struct{}{})
	require.NoError(t, clock.BlockUntil(ctx, 1), "the attempt's timeout timer")
	clock.Advance(5 * time.Second)
	hd := <-c
	_, err := hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "timed out after 5s")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusFailed, res.Status)
	require.Equal(t, Epoch.Add(5*time.Second), res.FinishedAt)
}

func testDeferred(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	hd, err := Echo.Using(localtasks.WithDelay(time.Minute)).Enqueue(ctx, b, EchoArgs{N: 1})
	require.NoError(t, err)
	at, err := Echo.Using(localtasks.WithRunAt(Epoch.Add(2*time.Minute))).Enqueue(ctx, b, EchoArgs{N: 2})
	require.NoError(t, err)

	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status)
	require.Equal(t, Epoch.Add(time.Minute), res.RunAfter)

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(59 * time.Second)
	st, err := hd.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, st, "not before its time")

	clock.Advance(time.Second)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v.N)
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, Epoch, res.EnqueuedAt)
	require.Equal(t, Epoch.Add(time.Minute), res.StartedAt, "StartedAt is when it started, not when it was enqueued")

	st, err = at.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, st)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.Advance(time.Minute)
	v, err = at.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v.N)
}

func testRetryDelay(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	hd, err := Flaky.Using(localtasks.WithRetry(localtasks.FixedRetry(2, 10*time.Second))).
		Enqueue(ctx, b, FlakyArgs{Message: "try later", FailAttempts: 1})
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1), "the retry's timer")
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusScheduled, res.Status, "waiting for the retry delay")
	require.Equal(t, Epoch.Add(10*time.Second), res.RunAfter)
	clock.Advance(10 * time.Second)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	res, err = hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, Epoch, res.StartedAt)
	require.Equal(t, Epoch.Add(10*time.Second), res.LastAttemptedAt)
	require.Equal(t, Epoch, res.Errors[0].At)
}

func testCancelScheduled(t *testing.T, h *harness) {
	b, clock, ctx := h.setup(t, 0)
	hd, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{})
	require.NoError(t, err)
	require.NoError(t, hd.Cancel(ctx))
	require.NoError(t, hd.Cancel(ctx), "cancelling a cancelled task again is not an error")
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Zero(t, res.Attempts)
	require.NotEmpty(t, res.CancelReason)
	require.Zero(t, clock.Pending(), "a cancelled task's timer is stopped")
}

func testEvents(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	sub := b.(localtasks.Subscriber).Subscribe(16)
	defer sub.Close()
	hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: 3})
	require.NoError(t, err)
	var kinds []localtasks.EventKind
	var statuses []localtasks.Status
	for len(kinds) < 3 {
		select {
		case ev := <-sub.C():
			require.Equal(t, hd.ID(), ev.Result.ID)
			kinds = append(kinds, ev.Kind)
			statuses = append(statuses, ev.Result.Status)
		case <-ctx.Done():
			t.Fatalf("events so far %v", kinds)
		}
	}
	require.Equal(t, []localtasks.EventKind{localtasks.EventEnqueued, localtasks.EventStarted, localtasks.EventFinished}, kinds)
	require.Equal(t, localtasks.StatusRunning, statuses[1])
	require.Equal(t, localtasks.StatusSuccessful, statuses[2])
	require.Zero(t, sub.Dropped())
}

func testCancelRunning(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 0)
	s, ok := b.(localtasks.Subscriber)
	require.True(t, ok, "a backend that cancels running tasks must implement localtasks.Subscriber for this suite to see them start")
	sub := s.Subscribe(16)
	defer sub.Close()
	hd, err := Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	started(t, ctx, sub, hd.ID())
	require.NoError(t, hd.Cancel(ctx))
	_, err = hd.Wait(ctx)
	require.ErrorIs(t, err, localtasks.ErrCancelled)
	res, err := hd.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
	require.Equal(t, 1, res.Attempts)
	require.Contains(t, res.CancelReason, "running")
}

// closeGivingUp starts a run that blocks and, where the backend defers, a
// scheduled one, then closes b with a ctx that has ended, so that Close
// gives up on the running run at once. It returns the subscription made
// before, the running run, and the IDs of both.
func closeGivingUp(t *testing.T, h *harness) (localtasks.Backend, context.Context, *localtasks.Subscription, localtasks.Handle[struct{}], []string) {
	t.Helper()
	b, _, ctx := h.setup(t, 0)
	sub := b.(localtasks.Subscriber).Subscribe(16)
	running, err := Block.Enqueue(ctx, b, struct{}{})
	require.NoError(t, err)
	started(t, ctx, sub, running.ID())
	ids := []string{running.ID()}
	if h.caps.Defer {
		hd, err := Echo.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, EchoArgs{})
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	expired, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, b.Close(expired), context.Canceled, "Close reports that it gave up on running tasks")
	return b, ctx, sub, running, ids
}

func testCloseCancelsRunning(t *testing.T, h *harness) {
	b, ctx, sub, _, ids := closeGivingUp(t, h)
	for _, id := range ids {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.Equal(t, localtasks.StatusCancelled, res.Status, "task %s", id)
	}
	for range sub.C() { // closed once the backend is
	}
	late := b.(localtasks.Subscriber).Subscribe(1)
	_, open := <-late.C()
	require.False(t, open, "a subscription made after Close gave up on running tasks is closed at once")
}

func testKeepsResults(t *testing.T, h *harness) {
	b, _, ctx := h.setup(t, 2)
	var ids []string
	for i := range 4 {
		hd, err := Echo.Enqueue(ctx, b, EchoArgs{N: i})
		require.NoError(t, err)
		_, err = hd.Wait(ctx)
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	for i, id := range ids {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err, "a kept result outlives MaxResults")
		require.Equal(t, EchoArgs{N: i}, res.Value)
	}
}

func testCloseReleasesRunning(t *testing.T, h *harness) {
	b, ctx, sub, running, ids := closeGivingUp(t, h)
	for _, id := range ids {
		res, err := b.GetResult(ctx, id)
		require.NoError(t, err)
		require.False(t, res.Status.Finished(), "task %s is left to other workers, not ended: %v", id, res.Status)
		require.NotEqual(t, localtasks.StatusRunning, res.Status, "task %s is not running once Close returned", id)
	}
	for range sub.C() { // closed once the backend is
	}
	require.NoError(t, running.Cancel(ctx), "the released run can still be cancelled")
	res, err := b.GetResult(ctx, running.ID())
	require.NoError(t, err)
	require.Equal(t, localtasks.StatusCancelled, res.Status)
}

// testMiddleware checks that Config.Middleware wraps every attempt, the
// first outermost, on the worker and inside the attempt's ctx; that a
// middleware can refuse an attempt; and that the value and the error of
// the task pass through the chain.
func testMiddleware(t *testing.T, h *harness) {
	var mu sync.Mutex
	traces := map[string][]string{}                   // by run ID
	executions := map[string][]localtasks.Execution{} // by run ID, as the outer middleware saw them
	record := func(id, s string) {
		mu.Lock()
		defer mu.Unlock()
		traces[id] = append(traces[id], s)
	}
	outer := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		mu.Lock()
		executions[ex.ID] = append(executions[ex.ID], ex)
		mu.Unlock()
		record(ex.ID, "outer before "+ex.Task)
		if id := localtasks.TaskID(ctx); id != ex.ID {
			record(ex.ID, "outer's ctx is the attempt of "+id)
		}
		err := next(ctx)
		record(ex.ID, fmt.Sprintf("outer after %v", err))
		return err
	}
	inner := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		record(ex.ID, "inner before")
		if a, ok := ex.Args.(EchoArgs); ok && a.N < 0 {
			return errors.New("refused by middleware")
		}
		err := next(ctx)
		record(ex.ID, fmt.Sprintf("inner after %v", err))
		return err
	}
	b, _, ctx := h.setupWith(t, localtasks.Config{Middleware: []localtasks.Middleware{outer, inner}})
	trace := func(id string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(traces[id])
	}

	task, priority := Echo, 0
	if h.caps.Priority {
		task, priority = Echo.Using(localtasks.WithPriority(7)), 7
	}
	args := EchoArgs{N: 3, Text: "through the chain"}
	hd, err := task.Enqueue(ctx, b, args)
	require.NoError(t, err)
	v, err := hd.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, args, v, "the value passes through the chain")
	require.Equal(t, []string{"outer before " + Echo.Name(), "inner before", "inner after <nil>", "outer after <nil>"}, trace(hd.ID()),
		"the first middleware is outermost, and each wraps the attempt once")
	mu.Lock()
	exs := slices.Clone(executions[hd.ID()])
	mu.Unlock()
	require.Equal(t, []localtasks.Execution{{ID: hd.ID(), Task: Echo.Name(), Attempt: 1, Queue: localtasks.QueueDefault, Priority: priority, Args: args}}, exs,
		"the Execution describes the attempt")

	refused, err := Echo.Enqueue(ctx, b, EchoArgs{N: -1})
	require.NoError(t, err)
	_, err = refused.Wait(ctx)
	require.ErrorContains(t, err, "refused by middleware", "a middleware's error fails the attempt")
	require.Equal(t, []string{"outer before " + Echo.Name(), "inner before", "outer after refused by middleware"}, trace(refused.ID()),
		"a middleware that does not call next ends the chain there")
	require.Equal(t, localtasks.StatusFailed, result(t, ctx, b, refused.ID()).Status)

	failed, err := Flaky.Enqueue(ctx, b, FlakyArgs{Message: "failed in the task", FailAttempts: 1})
	require.NoError(t, err)
	_, err = failed.Wait(ctx)
	require.ErrorContains(t, err, "failed in the task")
	require.Equal(t, []string{"outer before " + Flaky.Name(), "inner before", "inner after failed in the task", "outer after failed in the task"},
		trace(failed.ID()), "the task's error reaches the chain as next's")
}

// testMaxQueued fills a queue of two with scheduled runs: a third Enqueue
// fails with ErrQueueFull and queues nothing; one that waits for room gets
// it when a queued run is cancelled.
func testMaxQueued(t *testing.T, h *harness) {
	b, _, ctx := h.setupWith(t, localtasks.Config{MaxQueued: 2})
	later := Echo.Using(localtasks.WithDelay(time.Hour))
	var ids []string
	for i := range 2 {
		hd, err := later.Enqueue(ctx, b, EchoArgs{N: i})
		require.NoError(t, err)
		ids = append(ids, hd.ID())
	}
	_, err := Echo.Enqueue(ctx, b, EchoArgs{N: 3})
	require.ErrorIs(t, err, localtasks.ErrQueueFull, "a third run over MaxQueued 2")
	if s, ok := b.(localtasks.Snapshotter); ok {
		require.EqualValues(t, 1, s.Counters().QueueFull)
		snap, err := s.Snapshot(ctx, localtasks.SnapshotOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, snap.Counts.Scheduled, "the refused run was not queued")
		require.Zero(t, snap.Counts.Ready)
	}

	done := make(chan error, 1)
	go func() {
		_, err := later.Using(localtasks.WithWaitForRoom()).Enqueue(ctx, b, EchoArgs{N: 4})
		done <- err
	}()
	require.NoError(t, b.Cancel(ctx, ids[0]))
	require.NoError(t, <-done, "room made by a cancel")
	_, err = Echo.Enqueue(ctx, b, EchoArgs{N: 5})
	require.ErrorIs(t, err, localtasks.ErrQueueFull, "full again")
}
