//go:build unix

package localtasks_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/internal/wire"
)

// longLine says how a task prints a line of N bytes (its Tag, a colon, then
// x's): Via is stdout, stdout-unended (no newline), stderr, log.Print,
// logger (Logger(ctx), the line as its message and an attribute), progress
// (SetProgress's message) or fd2 (a write to the real descriptor 2).
type longLine struct {
	Via, Tag string
	N        int
}

func (a longLine) line() string { return a.Tag + ":" + strings.Repeat("x", a.N) }

var longLineTask = localtasks.Define("proc.longline", func(ctx context.Context, a longLine) (int, error) {
	line := a.line()
	switch a.Via {
	case "stdout":
		fmt.Println(line)
	case "stdout-unended":
		for len(line) > 0 {
			n := min(len(line), 64<<10)
			os.Stdout.WriteString(line[:n])
			line = line[n:]
		}
	case "stderr":
		fmt.Fprintln(os.Stderr, line)
	case "log.Print":
		log.Print(line)
	case "logger":
		localtasks.Logger(ctx).Info(line, "big", line)
	case "progress":
		localtasks.SetProgress(ctx, 1, 2, line)
	case "fd2":
		b := []byte(line + "\n")
		for len(b) > 0 {
			n, err := syscall.Write(2, b)
			if err != nil {
				return 0, err
			}
			b = b[n:]
		}
	default:
		return 0, fmt.Errorf("no way %q", a.Via)
	}
	return os.Getpid(), nil
})

// A line of output, a log record or a progress message longer than a frame
// holds does not end the worker: lines go in parts, each but the last
// marked, and records and messages are cut, marked.
func TestProcessPoolLongOutputLines(t *testing.T) {
	t.Parallel()
	const frame = 1 << 20
	cutMark := regexp.MustCompile(` …\[cut \d+ bytes\]$`)
	for _, via := range []string{"stdout", "stdout-unended", "stderr", "log.Print", "fd2", "logger", "progress"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			logs := newCapture()
			b := newProcPool(t, localtasks.ProcessPoolConfig{Config: localtasks.Config{Logger: slog.New(logs)},
				MaxWorkers: 1, MaxFrameBytes: frame})
			arg := longLine{Via: via, Tag: "long-" + via, N: 3 << 20}
			h, err := longLineTask.Enqueue(ctx, b, arg)
			require.NoError(t, err)
			pid, err := h.Wait(ctx)
			require.NoError(t, err, "the task goes on")

			switch via {
			case "logger":
				r := logs.awaitFunc(t, ctx, func(r map[string]string) bool { return strings.HasPrefix(r["msg"], arg.Tag+":") })
				require.Regexp(t, cutMark, r["msg"])
				require.Regexp(t, cutMark, r["big"])
				require.Less(t, len(r["msg"])+len(r["big"]), frame)
				require.Equal(t, h.ID(), r["task_id"])
			case "progress":
				res, err := h.Result(ctx)
				require.NoError(t, err)
				msg := res.Progress.Message
				require.True(t, strings.HasPrefix(msg, arg.Tag+":"))
				require.Regexp(t, cutMark, msg)
				require.Less(t, len(msg), frame)
			default:
				stream := "stderr"
				if strings.HasPrefix(via, "stdout") {
					stream = "stdout"
				}
				parts := logs.awaitLine(t, ctx, stream, arg.Tag+":")
				require.Greater(t, len(parts), 3, "a 3 MiB line in parts of a frame at most")
				whole := ""
				for i, p := range parts {
					require.LessOrEqual(t, len(p), frame)
					if i < len(parts)-1 {
						whole += strings.TrimSuffix(p, wire.LineContinues)
					} else {
						whole += p
					}
				}
				require.True(t, strings.HasSuffix(whole, arg.line()), "the parts make the line")
				require.LessOrEqual(t, len(whole)-len(arg.line()), 64, "and nothing else but log.Print's prefix")
			}

			again, err := pidTask.Enqueue(ctx, b, struct{}{})
			require.NoError(t, err)
			same, err := again.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, pid, same, "the worker goes on")
		})
	}
}

// awaitFunc waits for a record that ok accepts.
func (c *capture) awaitFunc(t *testing.T, ctx context.Context, ok func(map[string]string) bool) map[string]string {
	t.Helper()
	for {
		c.mu.Lock()
		for _, r := range c.records {
			if ok(r) {
				c.mu.Unlock()
				return r
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("no such log record")
		}
	}
}

// awaitLine waits for the parts of a line of stream that starts with
// prefix, up to its last (the first that does not end with
// wire.LineContinues), and returns them.
func (c *capture) awaitLine(t *testing.T, ctx context.Context, stream, prefix string) []string {
	t.Helper()
	for {
		c.mu.Lock()
		var parts []string
		for _, r := range c.records {
			if r["stream"] != stream || len(parts) == 0 && !strings.Contains(r["msg"], prefix) {
				continue
			}
			parts = append(parts, r["msg"])
			if !strings.HasSuffix(r["msg"], wire.LineContinues) {
				c.mu.Unlock()
				return parts
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("the line %q... did not come whole: %d parts", prefix, len(parts))
		}
	}
}
