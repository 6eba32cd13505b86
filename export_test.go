package localtasks

// What the external tests (package localtasks_test) need of the package's
// insides. They cannot be internal tests: localtaskstest, which they use,
// imports this package.

// DispatchedForTest returns a channel that receives the ID of each run b
// sends to a worker process, READY and not yet started, from now on: the
// state's testDispatched hook. The channel holds 64; a dispatch blocks
// while it is full.
func DispatchedForTest(b *ProcessPoolBackend) <-chan string {
	c := make(chan string, 64)
	b.s.mu.Lock()
	b.s.testDispatched = func(rec *record) { c <- rec.id }
	b.s.mu.Unlock()
	return c
}
