package localtasks

import (
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// recordSize64 is a record's size on a 64-bit platform, as record.go's
// comment and docs/design.md ("Inside a state") give it.
const recordSize64 = 192

// The store holds up to MaxResults finished records and every unfinished
// one, so the docs state a record's size; this keeps them true.
func TestRecordSizeMatchesDocs(t *testing.T) {
	t.Parallel()
	if strconv.IntSize != 64 {
		t.Skipf("the documented size is for 64-bit platforms; this one has %d-bit ints", strconv.IntSize)
	}
	require.Equal(t, uintptr(recordSize64), unsafe.Sizeof(record{}),
		"a record is no longer %d bytes: update the size in record's comment (record.go), in docs/design.md (\"Inside a state\") "+
			"and recordSize64 here, or make it fit again", recordSize64)
}
