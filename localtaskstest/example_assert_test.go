package localtaskstest_test

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

type email struct{ To, Subject string }

var welcome = localtasks.Define("example.assert.welcome", func(ctx context.Context, e email) (struct{}, error) {
	return struct{}{}, nil
}, localtasks.WithPriority(5))

// signUp is the code under test: it enqueues a welcome email.
func signUp(ctx context.Context, b localtasks.Backend, addr string) error {
	_, err := welcome.Enqueue(ctx, b, email{To: addr, Subject: "Welcome"})
	return err
}

// printT stands for the test's *testing.T in this example: it prints a
// failure, its run IDs made plain, where a test would fail.
type printT struct{}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (printT) Helper() {}
func (printT) Errorf(format string, args ...any) {
	fmt.Println(uuidRE.ReplaceAllString(fmt.Sprintf(format, args...), "<ID>"))
}
func (printT) FailNow() {}

func ExampleRequireEnqueued() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var t printT // in a test: its *testing.T

	rec, err := localtasks.NewRecording(localtasks.Config{})
	if err != nil {
		panic(err)
	}
	defer rec.Close(ctx)
	if err := signUp(ctx, rec, "ada@example.com"); err != nil {
		panic(err)
	}

	// These hold: they print nothing.
	r := localtaskstest.RequireEnqueued(t, rec, welcome, email{To: "ada@example.com", Subject: "Welcome"}, &localtaskstest.Want{Priority: new(5)})
	fmt.Println(r.Status)
	localtaskstest.RequireEnqueuedCount(t, rec, welcome, 1, nil)

	// This one fails, and says how.
	localtaskstest.RequireEnqueued(t, rec, welcome, email{To: "grace@example.com", Subject: "Welcome"}, nil)
	// Output:
	// READY
	// localtaskstest: RequireEnqueued: no recorded run of task "example.assert.welcome" has the arguments wanted
	// wanted arguments: {
	//     "To": "grace@example.com",
	//     "Subject": "Welcome"
	//   }
	// recorded runs of task "example.assert.welcome": 1
	//   run <ID>: READY, queue "default", priority 5
	//     arguments (- wanted, + recorded):
	//         {
	//       -   "To": "grace@example.com",
	//       +   "To": "ada@example.com",
	//           "Subject": "Welcome"
	//         }
}
