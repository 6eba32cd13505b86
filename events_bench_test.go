package localtasks_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/localtasks/localtasks"
)

// BenchmarkRoundTripSubscribed is BenchmarkRoundTrip with subscribers that
// read every event on C as it comes: what events cost the pool, by the
// number of subscribers. Publishing is one ring write per event, whatever
// their number; the readers' own work is on other goroutines.
func BenchmarkRoundTripSubscribed(b *testing.B) {
	for _, subs := range []int{0, 1, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			ctx := context.Background()
			p := benchPool(b, 8, b.N+1)
			var wg sync.WaitGroup
			all := make([]*localtasks.Subscription, subs)
			b.Cleanup(func() {
				for _, sub := range all {
					sub.Close()
				}
				wg.Wait()
			})
			for i := range all {
				sub := p.Subscribe(0)
				all[i] = sub
				wg.Go(func() {
					for range sub.C() {
					}
				})
			}
			hs := make([]localtasks.Handle[int], 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h, err := benchNoop.Enqueue(ctx, p, i)
				if err != nil {
					b.Fatal(err)
				}
				hs = append(hs, h)
			}
			for _, h := range hs {
				if _, err := h.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
