package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

var send = localtasks.Define("example.using.send",
	func(ctx context.Context, to string) (bool, error) { return true, nil },
)

func ExampleTask_Using() {
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
