package sqlitejournal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/localtasks/localtasks"
)

// errLocked is what lockFile returns when another open file holds the lock.
var errLocked = errors.New("locked")

// lock is a journal's claim on its file: an exclusive lock on path+".lock",
// held from Open to Close, so that one program at a time resumes the
// journal's runs. Two would each run them: SQLite keeps the file
// consistent, not the runs single.
//
// The lock belongs to the open file, not to the process: the operating
// system releases it when the process ends, however it ends, and a second
// Open in the same process conflicts with the first as another program's
// does. The lock file stays on disk after Close: removing it would let a
// program lock a new file while another still holds the old one.
type lock struct {
	f *os.File
}

// acquire locks path+".lock", creating it, and writes this process's ID
// into it for the error of the next program that tries.
func acquire(path string) (*lock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlitejournal: opening %s, the lock file of the journal %s: %w: %w", name, path, err, localtasks.ErrJournal)
	}
	if err := lockFile(f); err != nil {
		var holder []byte
		if errors.Is(err, errLocked) {
			holder, _ = os.ReadFile(name)
		}
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("sqlitejournal: locking %s, the lock file of the journal %s: %w: %w", name, path, err, localtasks.ErrJournal)
		}
		return nil, inUseError(path, name, string(bytes.TrimSpace(holder)))
	}
	// The ID is for people and errors only: the lock is what counts.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &lock{f: f}, nil
}

// inUseError is the error of an Open that found the journal at path locked
// through the lock file name, whose holder wrote pid into it.
func inUseError(path, name, pid string) error {
	who := "another program"
	switch {
	case pid == strconv.Itoa(os.Getpid()):
		return fmt.Errorf("sqlitejournal: %s is in use by this program, which opened it already and has not closed it: "+
			"a journal serves one backend at a time, as two would run the same runs: share the open Journal, or Close it first: %w",
			path, localtasks.ErrJournal)
	case pid != "":
		who = "another program (process " + pid + ")"
	}
	return fmt.Errorf("sqlitejournal: %s is in use by %s, which holds the lock %s: "+
		"a journal serves one program at a time, as two would run the same runs: stop that program first, or give this one another journal file: %w",
		path, who, name, localtasks.ErrJournal)
}

// release unlocks the file, and closes it.
func (l *lock) release() error {
	return l.f.Close() // closing the only descriptor of the file releases the lock
}
