package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

type email struct{ To, Subject string }

var sendEmail = localtasks.Define("example.recording.send",
	func(ctx context.Context, e email) (struct{}, error) {
		panic("a recording backend never runs a task")
	},
)

func ExampleNewRecording() {
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
