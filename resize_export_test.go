package localtasks

// What the resize tests (package localtasks_test) need of the package's
// insides.

// LeftForTest returns a channel that receives the slot of each worker of b
// (a goroutine, or a process pool's slot) that leaves its slot from now
// on: retired by SetMaxWorkers, or at Close. The channel holds 64; a
// worker leaving blocks while it is full.
func LeftForTest(b Resizer) <-chan int {
	s := resizerState(b)
	c := make(chan int, 64)
	s.mu.Lock()
	s.testLeft = func(slot int) { c <- slot }
	s.mu.Unlock()
	return c
}

// RecalledForTest returns a channel that receives the ID of each run a
// worker process of b gives back unstarted, asked to by the parent (a
// recall, for an idle worker or a retiring one), from now on. The channel
// holds 64; the parent blocks while it is full.
func RecalledForTest(b *ProcessPoolBackend) <-chan string {
	c := make(chan string, 64)
	b.s.mu.Lock()
	b.s.proc.testRecalled = func(rec *record) { c <- rec.id }
	b.s.mu.Unlock()
	return c
}

func resizerState(b Resizer) *state {
	switch b := b.(type) {
	case *ThreadPoolBackend:
		return b.s
	case *ProcessPoolBackend:
		return b.s
	}
	panic("not a pool of this package")
}
