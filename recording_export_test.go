package localtasks

// RecordingWaitingForTest is WaitingForTest for a RecordingBackend: a Run
// or Wait on a run that another Run is running waits through the same
// hook.
func RecordingWaitingForTest(b *RecordingBackend) <-chan string {
	c := make(chan string, 16)
	b.s.mu.Lock()
	b.s.testWaiting = func(rec *record) { c <- rec.id }
	b.s.mu.Unlock()
	return c
}
