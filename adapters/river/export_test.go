package river

// StrikesChanged returns a channel closed when this process next reloads
// its copy of the strikes, for tests that wait for a strike made elsewhere.
func StrikesChanged(b *Backend) <-chan struct{} {
	b.strikes.mu.Lock()
	defer b.strikes.mu.Unlock()
	return b.strikes.changed
}
