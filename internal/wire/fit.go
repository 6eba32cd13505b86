package wire

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// What a frame holds bounds what a task prints and logs in one piece: a
// worker splits a line of output longer than a frame holds into parts,
// each but the last ending with LineContinues, and cuts the texts of a log
// record or a progress message too long for a frame (Fit), each cut marked.
// A task's output never ends its worker.

// LineContinues ends each part but the last of a line of output split to
// fit in frames: the next line of the same stream goes on with it.
const LineContinues = " …[line continues]"

// cutMark ends a text Fit cut, with how many bytes it cut.
const cutMark = " …[cut %d bytes]"

// LineReserve is what a log message takes beside its line, and a mark
// LineContinues, at most: a worker splits its output into parts of the
// frame limit less this.
const LineReserve = 256

// Fit shortens m, a log or progress message, so that it encodes in at most
// limit bytes: it cuts the texts longer than a common length (the line,
// and the attributes' keys and values), so that the longest lose the most,
// each cut text ending with a mark that says how many bytes it lost, and
// drops the attributes beyond limit/128 (a last one counts them). It
// leaves other kinds, and messages that fit, as they are, and reports
// whether it changed m. limit must be 4 KiB at least.
func Fit(m *FromWorker, limit int) bool {
	if m.Kind != KindLog && m.Kind != KindProgress {
		return false
	}
	size := len(appendFromWorker(nil, m))
	if size <= limit {
		return false
	}
	if most := limit / 128; len(m.Attrs) > most {
		dropped := len(m.Attrs) - (most - 1)
		m.Attrs = append(m.Attrs[:most-1:most-1], Attr{Key: "localtasks.dropped", Value: strconv.Itoa(dropped) + " attributes"})
	}
	texts := make([]*string, 0, 2+2*len(m.Attrs))
	texts = append(texts, &m.Line, &m.Stream) // a stream's name is short, and never cut, unless a peer is hostile
	for i := range m.Attrs {
		texts = append(texts, &m.Attrs[i].Key, &m.Attrs[i].Value)
	}
	// What the message takes beside its texts' bytes, with room for the
	// longest length prefix (5 bytes) of each.
	fixed, longest := len(appendFromWorker(nil, m))+4*len(texts), 0
	for _, t := range texts {
		fixed -= len(*t)
		longest = max(longest, len(*t))
	}
	budget := limit - fixed
	// The largest common length c with the texts, each cut to c, within
	// the budget.
	lo, hi := 0, longest
	for lo < hi {
		c := (lo + hi + 1) / 2
		total := 0
		for _, t := range texts {
			total += min(len(*t), c)
		}
		if total <= budget {
			lo = c
		} else {
			hi = c - 1
		}
	}
	for _, t := range texts {
		if len(*t) > lo {
			*t = cut(*t, lo)
		}
	}
	if len(appendFromWorker(nil, m)) > limit { // cannot happen with limit at 4 KiB or more
		m.Line, m.Attrs = fmt.Sprintf(cutMark, size), nil
	}
	return true
}

// cut returns s cut to n bytes at most, its end replaced by a mark of what
// it lost, and never inside a UTF-8 sequence.
func cut(s string, n int) string {
	room := n - len(fmt.Sprintf(cutMark, len(s))) // the mark, with at most as many digits
	if room <= 0 {
		return ""
	}
	k := Cut([]byte(s[:room+1]), room)
	return s[:k] + fmt.Sprintf(cutMark, len(s)-k)
}

// Cut returns the length of the longest prefix of b of at most n bytes that
// does not end inside a UTF-8 sequence: where to split a line that is too
// long for a frame without splitting a character. Bytes that are not UTF-8
// are cut anywhere.
func Cut(b []byte, n int) int {
	if n >= len(b) {
		n = len(b)
		for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if utf8.FullRune(b[i:n]) {
					return n
				}
				return i // b ends inside a character
			}
		}
		return n
	}
	for k := n; k > 0 && k > n-utf8.UTFMax; k-- {
		if utf8.RuneStart(b[k]) {
			return k
		}
	}
	return n
}
