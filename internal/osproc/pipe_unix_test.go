//go:build unix

package osproc

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A pipe whose write end another process still holds (here: this one)
// never reaches EOF; once the worker has exited, an ExitReader returns what
// the pipe holds and ends, whether its Read was waiting or not yet called.
func TestExitReaderEndsAtExit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		exitedFirst bool
	}{{"a read waiting for more", false}, {"exited before the read", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rf, wf, err := os.Pipe()
			require.NoError(t, err)
			defer wf.Close() // held open: no EOF comes
			r := NewExitReader(rf)
			defer r.Close()
			_, err = wf.WriteString("what the worker wrote\n")
			require.NoError(t, err)
			if c.exitedFirst {
				r.Exited()
			}
			got := make(chan string, 1)
			go func() {
				b, err := io.ReadAll(r)
				if err != nil {
					b = append(b, err.Error()...)
				}
				got <- string(b)
			}()
			if !c.exitedFirst {
				r.Exited()
			}
			require.Equal(t, "what the worker wrote\n", <-got)
		})
	}
}

// What comes after the exit, from a process that outlived the worker and
// writes on, is bounded.
func TestExitReaderBoundsWhatFollowsTheExit(t *testing.T) {
	t.Parallel()
	rf, wf, err := os.Pipe()
	require.NoError(t, err)
	defer wf.Close()
	r := NewExitReader(rf)
	defer r.Close()
	r.left = 10
	_, err = wf.WriteString(strings.Repeat("x", 100))
	require.NoError(t, err)
	r.Exited()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Len(t, b, 10)
}
