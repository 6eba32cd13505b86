package localtaskstest

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// The scheduling features' tasks.
var (
	// Limited waits until its ctx is done; at most one run per Customer
	// runs at once.
	Limited = localtasks.Define("localtaskstest.limited", func(ctx context.Context, a CustomerArgs) (int, error) {
		<-ctx.Done()
		return a.Customer, ctx.Err()
	}, localtasks.WithConcurrencyLimit(localtasks.ConcurrencyLimit{Max: 1, Per: "Customer"}))
	// Rated returns its customer; at most two runs per Customer start a
	// minute. RatedDrop drops the runs over the limit.
	Rated = localtasks.Define("localtaskstest.rated", customer,
		localtasks.WithRateLimit(localtasks.RateLimit{Max: 2, Period: time.Minute, Per: "Customer"}))
	RatedDrop = localtasks.Define("localtaskstest.rated-drop", customer,
		localtasks.WithRateLimit(localtasks.RateLimit{Max: 2, Period: time.Minute, Per: "Customer", Drop: true}))
	// Debounced returns its customer, a minute after the last of a burst
	// of enqueues for that customer.
	Debounced = localtasks.Define("localtaskstest.debounced", customer,
		localtasks.WithDebounce(localtasks.Debounce{Window: time.Minute, Per: "Customer"}))
	// Cooled returns its customer; enqueues within a minute of an
	// accepted one are dropped.
	Cooled = localtasks.Define("localtaskstest.cooled", customer,
		localtasks.WithCooldown(localtasks.Cooldown{Window: time.Minute}))
	// Tick is perpetual, every minute: it returns N (or fails, if Fail),
	// asks for N+1 next, and stops its chain once N reaches Last.
	Tick = localtasks.Define("localtaskstest.tick", func(ctx context.Context, a TickArgs) (int, error) {
		if a.N >= a.Last {
			return a.N, localtasks.StopPerpetual(ctx)
		}
		if err := localtasks.SetNextArgs(ctx, TickArgs{N: a.N + 1, Last: a.Last}); err != nil {
			return 0, err
		}
		if a.Fail {
			return 0, fmt.Errorf("tick %d failed", a.N)
		}
		return a.N, nil
	}, localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Minute}))
	// Cron runs every five minutes, on AutomaticQueue, and starts with
	// every backend whose Config.Automatic names it.
	Cron = localtasks.Define("localtaskstest.cron", func(ctx context.Context, _ struct{}) (string, error) {
		return localtasks.TaskID(ctx), nil
	}, localtasks.WithCron("*/5 * * * *", nil), localtasks.WithQueue(AutomaticQueue))
)

// AutomaticQueue is the queue of the suite's automatic perpetual task,
// Cron: a backend that starts it (Config.Automatic) lists this queue in
// Config.Queues.
const AutomaticQueue = "localtaskstest.automatic"

func customer(ctx context.Context, a CustomerArgs) (int, error) { return a.Customer, nil }

// CustomerArgs is the argument of the limited tasks.
type CustomerArgs struct {
	Customer int
	Note     string
}

// TickArgs is Tick's argument.
type TickArgs struct {
	N, Last int
	Fail    bool
}

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
