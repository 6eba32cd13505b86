// Package uid makes random (version 4) UUIDs cheaply.
//
// The random bytes come from crypto/rand, read 4 KiB at a time into buffers
// that a sync.Pool keeps per processor, so that concurrent callers neither
// make a system call each nor wait on one lock; the canonical form is
// written straight into the one string an ID costs. An ID is as
// unpredictable as one from uuid.NewString, at about half the cost.
package uid

import (
	"crypto/rand"
	"sync"

	"github.com/google/uuid"
)

// randBuf is a buffer of random bytes, consumed from off.
type randBuf struct {
	b   [4096]byte
	off int
}

var bufs = sync.Pool{New: func() any { return &randBuf{off: 4096} }}

const hexDigits = "0123456789abcdef"

// Random returns a new random (version 4) UUID.
func Random() uuid.UUID {
	var u uuid.UUID
	r := bufs.Get().(*randBuf)
	if r.off == len(r.b) {
		rand.Read(r.b[:]) // never returns an error: it crashes the program instead
		r.off = 0
	}
	copy(u[:], r.b[r.off:r.off+16])
	clear(r.b[r.off : r.off+16]) // bytes handed out do not stay behind in the buffer
	r.off += 16
	bufs.Put(r)

	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// Format returns u's canonical 36-character form, in the one allocation of
// the string.
func Format(u uuid.UUID) string {
	var s [36]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[b>>4], hexDigits[b&0x0f]
		j += 2
	}
	return string(s[:])
}
