//go:build unix && !linux

package child

// readable returns every capture: elsewhere than on Linux, the reads find
// out for themselves what the pipes hold.
func readable(cs []*capture) uint { return ^uint(0) }
