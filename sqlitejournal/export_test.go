package sqlitejournal

// Closing is closed once Close has been called.
func (j *Journal) Closing() <-chan struct{} { return j.closing }

// VacuumThresholds are the incremental vacuum's constants, for the test
// that checks a file shrinks.
const (
	VacuumMinFree  = vacuumMinFree
	VacuumFraction = vacuumFraction
	VacuumStep     = vacuumStep
)
