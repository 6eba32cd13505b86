package wire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSpecRoundTrip(t *testing.T) {
	t.Parallel()
	want := Spec{Version: Version, FrameLimit: 1 << 20, MemLimit: 64 << 20, Nice: 19, Heartbeat: 5 * time.Second}
	got, err := ParseSpec(want.String())
	require.NoError(t, err)
	require.Equal(t, want, got)

	want.Init = "db;x=y" // a name with the spec's separators
	got, err = ParseSpec(want.String())
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = ParseSpec("init=zz")
	require.ErrorContains(t, err, "bad init")

	_, err = ParseSpec(Spec{Version: Version + 1}.String())
	require.ErrorContains(t, err, "protocol version", "a worker of another binary refuses")
	_, err = ParseSpec("v=x")
	require.ErrorContains(t, err, "bad v")
}
