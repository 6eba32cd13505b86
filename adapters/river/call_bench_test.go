package river

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// BenchmarkCall is an attempt's call of its task on a worker, the
// argument's decoding included, without middleware and through two.
// Without middleware it costs what decoding and calling cost: the chain
// is built only when there is one.
func BenchmarkCall(b *testing.B) {
	def := localtaskstest.Echo.Definition()
	raw := json.RawMessage(`{"N":1,"Text":"x"}`)
	ex := localtasks.Execution{ID: "1", Task: def.Name(), Attempt: 1, Queue: localtasks.QueueDefault}
	pass := func(ctx context.Context, _ localtasks.Execution, next func(context.Context) error) error {
		return next(ctx)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		mw   []localtasks.Middleware
	}{{"NoMiddleware", nil}, {"TwoMiddleware", []localtasks.Middleware{pass, pass}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				args, err := decode(def.ArgsType(), raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err, _ := call(ctx, def, args, c.mw, ex); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("DecodeAndCallAlone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			args, err := decode(def.ArgsType(), raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := def.Call(ctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
