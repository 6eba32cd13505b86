package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

// Task names are process-wide: every task of this file is named "example.…"
// so that it cannot collide with a task of the package's tests.

func ExampleDefine() {
	// Define a task once, at package level in real code: a name that stays
	// stable across releases, a typed function, and default options.
	greet := localtasks.Define("example.define.greet",
		func(ctx context.Context, name string) (string, error) {
			return "hello, " + name, nil
		},
		localtasks.WithPriority(10),
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	if err != nil {
		panic(err)
	}
	h, err := greet.Enqueue(ctx, pool, "gopher")
	if err != nil {
		panic(err)
	}
	msg, err := h.Wait(ctx)
	fmt.Println(msg, err)
	fmt.Println(greet.Name(), greet.Options().Priority)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// hello, gopher <nil>
	// example.define.greet 10
}

func ExampleTask_Using() {
	send := localtasks.Define("example.using.send",
		func(ctx context.Context, to string) (bool, error) { return true, nil },
	)

	// Using returns a copy with other options; send itself is unchanged.
	urgent := send.Using(
		localtasks.WithPriority(localtasks.MaxPriority),
		localtasks.WithQueue("emails"),
		localtasks.WithTimeout(30*time.Second),
		localtasks.WithRetry(localtasks.ExponentialRetry(5, time.Second, time.Minute)),
	)
	fmt.Println("send:  ", send.Options().Priority, send.Options().Queue == "")
	fmt.Println("urgent:", urgent.Options().Priority, urgent.Options().Queue, urgent.Options().Retry.MaxAttempts)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A RecordingBackend runs nothing, so the run stays READY for us to look at.
	rec, err := localtasks.NewRecording(localtasks.Config{Queues: []string{"default", "emails"}})
	if err != nil {
		panic(err)
	}
	h, err := urgent.Enqueue(ctx, rec, "ada@example.com")
	if err != nil {
		panic(err)
	}
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Queue, res.Priority)

	// A queue the backend does not list is refused at enqueue.
	_, err = send.Using(localtasks.WithQueue("sms")).Enqueue(ctx, rec, "ada@example.com")
	fmt.Println(errors.Is(err, localtasks.ErrInvalidTask))

	if err := rec.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// send:   0 true
	// urgent: 100 emails 5
	// READY emails 100
	// true
}

func ExampleTask_Enqueue() {
	type resize struct {
		Path  string
		Width int
	}
	thumbnail := localtasks.Define("example.enqueue.thumbnail",
		func(ctx context.Context, r resize) (string, error) {
			select {
			case <-time.After(10 * time.Millisecond): // the "work"
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return fmt.Sprintf("%s@%dw", r.Path, r.Width), nil
		},
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		panic(err)
	}

	// Enqueue returns at once; the pool's workers run the tasks.
	var handles []localtasks.Handle[string]
	for _, w := range []int{320, 640, 1280} {
		h, err := thumbnail.Enqueue(ctx, pool, resize{Path: "cat.jpg", Width: w})
		if err != nil {
			panic(err)
		}
		handles = append(handles, h)
	}

	// Wait blocks until a run has finished and returns its typed value.
	for _, h := range handles {
		out, err := h.Wait(ctx)
		fmt.Println(out, err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// cat.jpg@320w <nil>
	// cat.jpg@640w <nil>
	// cat.jpg@1280w <nil>
}

func ExampleTask_GetResult() {
	add := localtasks.Define("example.getresult.add",
		func(ctx context.Context, xy [2]int) (int, error) { return xy[0] + xy[1], nil },
	)
	upper := localtasks.Define("example.getresult.upper",
		func(ctx context.Context, s string) (string, error) { return strings.ToUpper(s), nil },
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}

	// One request enqueues and keeps only the ID, say in a 202 response…
	h, err := add.Enqueue(ctx, pool, [2]int{2, 3})
	if err != nil {
		panic(err)
	}
	id := h.ID()

	// …and a later one fetches the run by that ID, typed again.
	later, err := add.GetResult(ctx, pool, id)
	if err != nil {
		panic(err)
	}
	sum, err := later.Wait(ctx)
	fmt.Println(sum, err)

	res, err := pool.GetResult(ctx, id) // the untyped snapshot
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Task, res.Status, res.Attempts)

	// The ID of add's run is not a run of upper: a mismatch, as in Django.
	_, err = upper.GetResult(ctx, pool, id)
	fmt.Println(errors.Is(err, localtasks.ErrResultMismatch))

	// An ID the backend never gave out, or whose result was evicted.
	_, err = add.GetResult(ctx, pool, "8c1f3b9e-3a43-4b6e-9a5c-2f6d7f1e0b2a")
	fmt.Println(errors.Is(err, localtasks.ErrResultNotFound))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// 5 <nil>
	// example.getresult.add SUCCESSFUL 1
	// true
	// true
}

func ExampleNewImmediate() {
	// flaky fails on its first two attempts.
	flaky := localtasks.Define("example.immediate.flaky",
		func(ctx context.Context, n int) (int, error) {
			if localtasks.Attempt(ctx) < 3 {
				return 0, errors.New("connection reset")
			}
			return n * n, nil
		},
		localtasks.WithRetry(localtasks.FixedRetry(3, time.Minute)),
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// The immediate backend runs a task before Enqueue returns, retries
	// included and without their delays: the test-friendly backend.
	b, err := localtasks.NewImmediate(localtasks.Config{})
	if err != nil {
		panic(err)
	}
	h, err := flaky.Enqueue(ctx, b, 7)
	if err != nil {
		panic(err)
	}
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Attempts, len(res.Errors), res.Errors[0].Message)
	v, err := h.Wait(ctx) // already finished: returns at once
	fmt.Println(v, err)

	// It cannot defer a task: that is refused, and nothing runs.
	_, err = flaky.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, 7)
	fmt.Println(errors.Is(err, errors.ErrUnsupported))

	if err := b.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// SUCCESSFUL 3 2 connection reset
	// 49 <nil>
	// true
}

func ExampleNewRecording() {
	type email struct{ To, Subject string }
	sendEmail := localtasks.Define("example.recording.send",
		func(ctx context.Context, e email) (struct{}, error) {
			panic("a recording backend never runs a task")
		},
	)

	// signUp is the code under test: it enqueues a welcome email.
	signUp := func(ctx context.Context, b localtasks.Backend, addr string) error {
		_, err := sendEmail.Enqueue(ctx, b, email{To: addr, Subject: "Welcome"})
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	rec, err := localtasks.NewRecording(localtasks.Config{})
	if err != nil {
		panic(err)
	}
	if err := signUp(ctx, rec, "ada@example.com"); err != nil {
		panic(err)
	}
	if err := signUp(ctx, rec, "grace@example.com"); err != nil {
		panic(err)
	}

	for _, r := range rec.Recorded() {
		fmt.Println(r.Task, r.Status, r.Args.(email).To)
	}

	// Waiting on a run that will never run is an error, not a hang.
	_, err = rec.Wait(ctx, rec.Recorded()[0].ID)
	fmt.Println(errors.Is(err, errors.ErrUnsupported))

	if err := rec.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// example.recording.send READY ada@example.com
	// example.recording.send READY grace@example.com
	// true
}

func ExampleTaskID() {
	whoAmI := localtasks.Define("example.taskid.whoami",
		func(ctx context.Context, _ struct{}) (string, error) {
			// A running task reads its own ID, name and attempt from its ctx.
			return fmt.Sprintf("%s %s %d", localtasks.TaskID(ctx), localtasks.TaskName(ctx), localtasks.Attempt(ctx)), nil
		},
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	h, err := whoAmI.Enqueue(ctx, pool, struct{}{})
	if err != nil {
		panic(err)
	}
	out, err := h.Wait(ctx)
	if err != nil {
		panic(err)
	}
	id, rest, _ := strings.Cut(out, " ")
	fmt.Println(id == h.ID(), rest)
	fmt.Printf("outside a task: %q %d\n", localtasks.TaskID(ctx), localtasks.Attempt(ctx))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// true example.taskid.whoami 1
	// outside a task: "" 0
}

func ExampleLogger() {
	charge := localtasks.Define("example.logger.charge",
		func(ctx context.Context, cents int) (bool, error) {
			// The logger carries task, task_id and attempt.
			localtasks.Logger(ctx).Info("charging card", "cents", cents)
			return true, nil
		},
	)

	// A text logger without the time and the task_id, so that the output
	// below does not change from run to run.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "task_id" {
				return slog.Attr{}
			}
			return a
		},
	}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Logger: logger},
		MaxWorkers: 1,
	})
	if err != nil {
		panic(err)
	}
	h, err := charge.Enqueue(ctx, pool, 1999)
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// level=INFO msg="charging card" task=example.logger.charge attempt=1 cents=1999
}

func ExampleThreadPoolBackend_Subscribe() {
	// ping fails its first attempt, and is retried at once.
	ping := localtasks.Define("example.subscribe.ping",
		func(ctx context.Context, host string) (string, error) {
			if localtasks.Attempt(ctx) == 1 {
				return "", errors.New("no route to host")
			}
			return "pong from " + host, nil
		},
		localtasks.WithRetry(localtasks.FixedRetry(2, 0)),
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}

	// Subscribe before enqueueing; a buffer large enough that no event
	// is dropped (see Subscription.Dropped).
	sub := pool.Subscribe(16)

	h, err := ping.Enqueue(ctx, pool, "db1")
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}

	// Closing the subscription closes C once its buffered events are read.
	sub.Close()
	for ev := range sub.C {
		r := ev.Result
		fmt.Printf("%-8s %-10s attempt %d\n", ev.Kind, r.Status, r.Attempts)
	}
	fmt.Println("dropped:", sub.Dropped())

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// enqueued READY      attempt 0
	// started  RUNNING    attempt 1
	// started  RUNNING    attempt 2
	// finished SUCCESSFUL attempt 2
	// dropped: 0
}

func ExampleMiddleware() {
	double := localtasks.Define("example.middleware.double",
		func(ctx context.Context, n int) (int, error) { return 2 * n, nil },
	)

	// trace wraps every attempt of every task the backend runs.
	trace := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		fmt.Printf("start %s attempt %d args %v\n", ex.Task, ex.Attempt, ex.Args)
		err := next(ctx)
		fmt.Printf("end   %s err %v\n", ex.Task, err)
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	b, err := localtasks.NewImmediate(localtasks.Config{Middleware: []localtasks.Middleware{trace}})
	if err != nil {
		panic(err)
	}
	h, err := double.Enqueue(ctx, b, 21)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Wait(ctx))

	if err := b.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// start example.middleware.double attempt 1 args 21
	// end   example.middleware.double err <nil>
	// 42 <nil>
}

func ExampleHandle_Cancel() {
	started := make(chan struct{})
	slow := localtasks.Define("example.cancel.slow",
		func(ctx context.Context, _ struct{}) (int, error) {
			close(started)
			<-ctx.Done() // a well-behaved task returns when its ctx ends
			return 0, ctx.Err()
		},
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	h, err := slow.Enqueue(ctx, pool, struct{}{})
	if err != nil {
		panic(err)
	}
	<-started
	if err := h.Cancel(ctx); err != nil {
		panic(err)
	}
	_, err = h.Wait(ctx)
	fmt.Println(errors.Is(err, localtasks.ErrCancelled))
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.CancelReason)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// true
	// CANCELLED cancelled while it was running
}
