package localtaskstest

import (
	"context"
	"errors"
	"fmt"

	"github.com/localtasks/localtasks"
)

// The conformance suite's tasks. Their behaviour comes from their
// arguments alone, so that a backend running them in another process
// behaves as one running them in this one.
var (
	// Echo returns its argument.
	Echo = localtasks.Define("localtaskstest.echo", func(ctx context.Context, a EchoArgs) (EchoArgs, error) {
		return a, nil
	})
	// Flaky fails (or panics) while its attempt number is at most
	// FailAttempts, then returns the attempt number.
	Flaky = localtasks.Define("localtaskstest.flaky", func(ctx context.Context, a FlakyArgs) (int, error) {
		n := localtasks.Attempt(ctx)
		if n > a.FailAttempts {
			return n, nil
		}
		if a.Panic {
			panic(a.Message)
		}
		return 0, errors.New(a.Message)
	})
	// Block waits until its ctx is done and returns the ctx's error.
	Block = localtasks.Define("localtaskstest.block", func(ctx context.Context, _ struct{}) (struct{}, error) {
		<-ctx.Done()
		return struct{}{}, ctx.Err()
	})
	// Steps reports its progress Steps times, then returns Steps.
	Steps = localtasks.Define("localtaskstest.steps", func(ctx context.Context, steps int) (int, error) {
		for i := 1; i <= steps; i++ {
			localtasks.SetProgress(ctx, int64(i), int64(steps), fmt.Sprintf("step %d", i))
		}
		return steps, nil
	})
	// Info reports what the task reads from its ctx.
	Info = localtasks.Define("localtaskstest.info", func(ctx context.Context, _ struct{}) (InfoResult, error) {
		localtasks.Logger(ctx).Debug("conformance info task")
		_, hasDeadline := ctx.Deadline()
		return InfoResult{ID: localtasks.TaskID(ctx), Task: localtasks.TaskName(ctx), Attempt: localtasks.Attempt(ctx), HasDeadline: hasDeadline}, nil
	})
)

// EchoArgs is Echo's argument and result.
type EchoArgs struct {
	N    int
	Text string
}

// FlakyArgs is Flaky's argument.
type FlakyArgs struct {
	Message      string
	FailAttempts int
	Panic        bool
}

// InfoResult is Info's result.
type InfoResult struct {
	ID          string
	Task        string
	Attempt     int
	HasDeadline bool
}
