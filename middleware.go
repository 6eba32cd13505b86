package localtasks

import (
	"context"

	"github.com/localtasks/localtasks/internal/failure"
	"github.com/localtasks/localtasks/internal/taskctx"
)

// Middleware wraps every attempt of every task a backend runs, for logging,
// metrics or tracing. It must call next to run the attempt (or return an
// error instead), and return next's error or one of its own. Middleware runs
// on the worker, inside the attempt's ctx and panic recovery, outermost
// first.
type Middleware func(ctx context.Context, ex Execution, next func(context.Context) error) error

// Execution describes the attempt a Middleware wraps.
type Execution struct {
	// ID is the run's ID, and Task its task's name.
	ID   string
	Task string
	// Attempt is the attempt's number, from 1.
	Attempt int
	// Queue and Priority are the run's.
	Queue    string
	Priority int
	// Args is the run's argument.
	Args any
}

// execute runs one attempt through the middleware, turning a panic into an
// error.
func (s *state) execute(rec *record, ctx *taskctx.Ctx) (val any, err error) {
	if len(s.set.cfg.Middleware) == 0 && ctx.Carrier == nil {
		defer failure.Catch(&err)
		return rec.def.Call(ctx, rec.args)
	}
	return s.executeChain(rec, ctx)
}

// executeChain is execute through the middleware. It is a function of its
// own so that the closure capturing val costs execute's common path nothing:
// a captured result variable lives on the heap.
func (s *state) executeChain(rec *record, ctx *taskctx.Ctx) (val any, err error) {
	defer failure.Catch(&err)
	err = s.chain(ctx, rec, func(ctx context.Context) error {
		var err error
		val, err = rec.def.Call(ctx, rec.args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return val, nil
}

// chain runs the middleware around run, outermost first, with panics in
// the middleware turned into errors, and returns the chain's error; run
// leaves the value in the caller's variables. The ctx the chain gets went
// through Config.Propagator's Extract first if the run has a carrier.
func (s *state) chain(tctx *taskctx.Ctx, rec *record, run func(context.Context) error) (err error) {
	defer failure.Catch(&err)
	ctx := context.Context(tctx)
	if tctx.Carrier != nil {
		ctx = s.set.cfg.Propagator.Extract(ctx, tctx.Carrier)
	}
	mw := s.set.cfg.Middleware
	ex := Execution{ID: rec.id, Task: rec.def.Name(), Attempt: tctx.Number, Queue: s.queueOf(rec), Priority: int(rec.priority), Args: rec.args}
	next := run
	for i := len(mw) - 1; i >= 0; i-- {
		m, inner := mw[i], next
		next = func(ctx context.Context) error { return m(ctx, ex, inner) }
	}
	return next(ctx)
}
