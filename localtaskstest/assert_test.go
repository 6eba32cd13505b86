package localtaskstest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/localtaskstest"
)

// fakeTB records what an assertion reports, instead of failing the test.
type fakeTB struct {
	errors []string
	failed int // FailNow calls
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) FailNow() { f.failed++ }

// message returns the one failure f recorded, checking that the assertion
// reported it and then stopped the test.
func (f *fakeTB) message(t *testing.T) string {
	t.Helper()
	require.Len(t, f.errors, 1, "the assertion did not fail")
	require.Equal(t, 1, f.failed, "Errorf, then FailNow")
	return f.errors[0]
}

// hidden has no field JSON shows.
type hidden struct{ n int }

var hiddenTask = localtasks.Define("localtaskstest.test.hidden", func(ctx context.Context, h hidden) (int, error) { return h.n, nil })

func newRecording(t *testing.T) (*localtasks.RecordingBackend, *localtaskstest.FakeClock) {
	t.Helper()
	clock := localtaskstest.NewFakeClock(localtaskstest.Epoch)
	b, err := localtasks.NewRecording(localtasks.Config{Queues: []string{localtasks.QueueDefault, localtaskstest.SideQueue},
		Test: localtasks.TestConfig{Clock: clock}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(context.Background())) })
	return b, clock
}

func enqueue[A, R any](t *testing.T, b localtasks.Backend, task *localtasks.Task[A, R], args A, opts ...localtasks.Option) localtasks.Handle[R] {
	t.Helper()
	h, err := task.Using(opts...).Enqueue(context.Background(), b, args)
	require.NoError(t, err)
	return h
}

func TestRequireEnqueued(t *testing.T) {
	t.Parallel()

	t.Run("Passes", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1})
		h := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 2}, localtasks.WithPriority(3))
		var ft fakeTB
		r := localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 2}, &localtaskstest.Want{Priority: new(3)})
		require.Empty(t, ft.errors)
		require.Zero(t, ft.failed)
		require.Equal(t, h.ID(), r.ID)
		localtaskstest.RequireEnqueued(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1}, nil)
	})

	t.Run("DiffsTheArguments", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		h := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1, Text: "grace"})
		var ft fakeTB
		r := localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1, Text: "ada"}, nil)
		require.Zero(t, r)
		require.Equal(t, `localtaskstest: RequireEnqueued: no recorded run of task "localtaskstest.echo" has the arguments wanted
wanted arguments: {
    "N": 1,
    "Text": "ada"
  }
recorded runs of task "localtaskstest.echo": 1
  run `+h.ID()+`: READY, queue "default", priority 0
    arguments (- wanted, + recorded):
        {
          "N": 1,
      -   "Text": "ada"
      +   "Text": "grace"
        }`, ft.message(t))
	})

	t.Run("NamesTheOptionsThatDiffer", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		h := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, localtasks.WithPriority(2), localtasks.WithQueue(localtaskstest.SideQueue))
		var ft fakeTB
		localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, &localtaskstest.Want{Priority: new(0), Queue: localtaskstest.SideQueue})
		require.Equal(t, `localtaskstest: RequireEnqueued: no recorded run of task "localtaskstest.echo" has the arguments and options wanted
wanted arguments: {
    "N": 0,
    "Text": ""
  }
wanted options: Want{Queue: "localtaskstest-side", Priority: 0}
recorded runs of task "localtaskstest.echo": 1
  run `+h.ID()+`: READY, queue "localtaskstest-side", priority 2
    priority: wanted 0, recorded 2
    arguments: as wanted`, ft.message(t))
	})

	t.Run("NoRunOfTheTask", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		var ft fakeTB
		localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, nil)
		require.Contains(t, ft.message(t), "\nno run of task \"localtaskstest.echo\" was recorded\nthe backend recorded no run of any task")

		enqueue(t, b, localtaskstest.Flaky, localtaskstest.FlakyArgs{})
		enqueue(t, b, localtaskstest.Steps, 1)
		enqueue(t, b, localtaskstest.Flaky, localtaskstest.FlakyArgs{})
		ft = fakeTB{}
		localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, nil)
		require.Contains(t, ft.message(t), "\nthe backend recorded runs of: \"localtaskstest.flaky\" (2) \"localtaskstest.steps\" (1)")
	})

	t.Run("ArgumentsJSONCannotShow", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		enqueue(t, b, hiddenTask, hidden{n: 1})
		var ft fakeTB
		localtaskstest.RequireEnqueued(&ft, b, hiddenTask, hidden{n: 2}, nil)
		msg := ft.message(t)
		require.Contains(t, msg, "\n      - localtaskstest_test.hidden{n:2}\n      + localtaskstest_test.hidden{n:1}")
		localtaskstest.RequireEnqueued(t, b, hiddenTask, hidden{n: 1}, nil)
	})

	t.Run("ListsTenRuns", func(t *testing.T) {
		t.Parallel()
		b, _ := newRecording(t)
		for i := range 12 {
			enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: i})
		}
		var ft fakeTB
		localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 12}, nil)
		msg := ft.message(t)
		require.Equal(t, 10, strings.Count(msg, "\n  run "))
		require.True(t, strings.HasSuffix(msg, "\n  ... and 2 more"), msg)
	})
}

// Each field of Want matches a run that has it, and fails on one that does
// not, naming the field.
func TestWantFields(t *testing.T) {
	t.Parallel()
	b, clock := newRecording(t)
	enqueued := localtaskstest.Epoch
	h := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, localtasks.WithQueue(localtaskstest.SideQueue), localtasks.WithPriority(-2),
		localtasks.WithKey("k"), localtasks.WithTags("a", "b"), localtasks.WithMetadata(map[string]string{"m": "1", "n": "2"}),
		localtasks.WithDelay(time.Minute), localtasks.WithStartWithin(time.Hour))
	clock.Advance(time.Second) // the assertions look at the times of enqueue, not now's
	for _, c := range []struct {
		field     string
		good, bad localtaskstest.Want
		says      string
	}{
		{"Queue", localtaskstest.Want{Queue: localtaskstest.SideQueue}, localtaskstest.Want{Queue: "default"},
			`queue: wanted "default", recorded "localtaskstest-side"`},
		{"Priority", localtaskstest.Want{Priority: new(-2)}, localtaskstest.Want{Priority: new(0)}, "priority: wanted 0, recorded -2"},
		{"Key", localtaskstest.Want{Key: "k"}, localtaskstest.Want{Key: "j"}, `key: wanted "j", recorded "k"`},
		{"Tags", localtaskstest.Want{Tags: []string{"b"}}, localtaskstest.Want{Tags: []string{"a", "c"}}, `tags: wanted "c" among them, recorded ["a" "b"]`},
		{"Metadata", localtaskstest.Want{Metadata: map[string]string{"n": "2"}}, localtaskstest.Want{Metadata: map[string]string{"m": "2", "o": "3"}},
			"metadata m: wanted \"2\", recorded \"1\"\n    metadata o: wanted \"3\", recorded none"},
		{"RunAfter", localtaskstest.Want{RunAfter: enqueued.Add(time.Minute)}, localtaskstest.Want{RunAfter: enqueued},
			"run after: wanted 2030-01-02T03:04:05Z, recorded 2030-01-02T03:05:05Z"},
		{"Delay", localtaskstest.Want{Delay: time.Minute}, localtaskstest.Want{Delay: time.Second}, "delay: wanted 1s, recorded 1m0s"},
		{"Deadline", localtaskstest.Want{Deadline: enqueued.Add(time.Hour + time.Minute)}, localtaskstest.Want{Deadline: enqueued.Add(time.Hour)},
			"deadline: wanted 2030-01-02T04:04:05Z, recorded 2030-01-02T04:05:05Z"},
		{"Status", localtaskstest.Want{Status: localtasks.StatusScheduled}, localtaskstest.Want{Status: localtasks.StatusReady},
			"status: wanted READY, recorded SCHEDULED"},
	} {
		t.Run(c.field, func(t *testing.T) {
			r := localtaskstest.RequireEnqueued(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, &c.good)
			require.Equal(t, h.ID(), r.ID)
			var ft fakeTB
			localtaskstest.RequireEnqueued(&ft, b, localtaskstest.Echo, localtaskstest.EchoArgs{}, &c.bad)
			require.Contains(t, ft.message(t), "\n    "+c.says+"\n    arguments: as wanted")
		})
	}
}

func TestRequireNotEnqueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := newRecording(t)
	localtaskstest.RequireNotEnqueued(t, b, localtaskstest.Echo, nil)

	h := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 5})
	var ft fakeTB
	localtaskstest.RequireNotEnqueued(&ft, b, localtaskstest.Echo, nil)
	require.Equal(t, `localtaskstest: RequireNotEnqueued: want no recorded run of task "localtaskstest.echo", found 1:
  run `+h.ID()+`: READY, queue "default", priority 0
    arguments: {
      "N": 5,
      "Text": ""
    }`, ft.message(t))

	require.NoError(t, b.Cancel(ctx, h.ID()))
	localtaskstest.RequireNotEnqueued(t, b, localtaskstest.Echo, &localtaskstest.Want{Status: localtasks.StatusReady})
	ft = fakeTB{}
	localtaskstest.RequireNotEnqueued(&ft, b, localtaskstest.Echo, &localtaskstest.Want{Status: localtasks.StatusCancelled})
	require.Contains(t, ft.message(t), `want no recorded run of task "localtaskstest.echo" with Want{Status: CANCELLED}, found 1:`)
}

func TestRequireEnqueuedCount(t *testing.T) {
	t.Parallel()
	b, _ := newRecording(t)
	require.Empty(t, localtaskstest.RequireEnqueuedCount(t, b, localtaskstest.Echo, 0, nil))
	var ft fakeTB
	localtaskstest.RequireEnqueuedCount(&ft, b, localtaskstest.Echo, 1, nil)
	require.Equal(t, `localtaskstest: RequireEnqueuedCount: want 1 recorded runs of task "localtaskstest.echo", found 0
the backend recorded no run of any task`, ft.message(t))

	h1 := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 1}, localtasks.WithPriority(1))
	h2 := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 2})
	h3 := enqueue(t, b, localtaskstest.Echo, localtaskstest.EchoArgs{N: 3}, localtasks.WithPriority(1))
	rs := localtaskstest.RequireEnqueuedCount(t, b, localtaskstest.Echo, 3, nil)
	require.Equal(t, []string{h1.ID(), h2.ID(), h3.ID()}, []string{rs[0].ID, rs[1].ID, rs[2].ID})
	rs = localtaskstest.RequireEnqueuedCount(t, b, localtaskstest.Echo, 2, &localtaskstest.Want{Priority: new(1)})
	require.Equal(t, []string{h1.ID(), h3.ID()}, []string{rs[0].ID, rs[1].ID})

	ft = fakeTB{}
	require.Nil(t, localtaskstest.RequireEnqueuedCount(&ft, b, localtaskstest.Echo, 1, &localtaskstest.Want{Priority: new(1)}))
	require.Equal(t, `localtaskstest: RequireEnqueuedCount: want 1 recorded runs of task "localtaskstest.echo" with Want{Priority: 1}, found 2
found:
  run `+h1.ID()+`: READY, queue "default", priority 1
    arguments: {
      "N": 1,
      "Text": ""
    }
  run `+h3.ID()+`: READY, queue "default", priority 1
    arguments: {
      "N": 3,
      "Text": ""
    }
the task's 1 other recorded runs:
  run `+h2.ID()+`: READY, queue "default", priority 0
    priority: wanted 1, recorded 0`, ft.message(t))
}
