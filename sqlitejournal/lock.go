package sqlitejournal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"

	"github.com/localtasks/localtasks"
)

// errLocked is what lockFile returns when another open file holds the lock.
var errLocked = errors.New("locked")

// lock is a journal's claim on its file: an exclusive lock on path+".lock",
// held from Open to Close, so that one program at a time resumes the
// journal's runs. Two would each run them: SQLite keeps the file
// consistent, not the runs single.
//
// The operating system releases the lock when the process ends, however it
// ends. Within the process, the list of held lock files refuses a second
// Open of the same file (by any path to it). The lock file stays on disk
// after Close: removing it would let a program lock a new file while
// another still holds the old one.
type lock struct {
	f  *os.File
	fi os.FileInfo
}

// held lists the lock files this process holds. Under its mutex, no
// descriptor of a held file is opened: closing one would release a POSIX
// lock.
var held struct {
	sync.Mutex
	files []os.FileInfo
}

// acquire locks path+".lock", creating it, and writes this process's ID
// into it for the error of the next program that tries.
func acquire(path string) (*lock, error) {
	name := path + ".lock"
	held.Lock()
	defer held.Unlock()
	if fi, err := os.Stat(name); err == nil && slices.ContainsFunc(held.files, func(h os.FileInfo) bool { return os.SameFile(h, fi) }) {
		return nil, inUseError(path, name, strconv.Itoa(os.Getpid()))
	}
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
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sqlitejournal: locking %s, the lock file of the journal %s: %w: %w", name, path, err, localtasks.ErrJournal)
	}
	// The ID is for people and errors only: the lock is what counts.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	held.files = append(held.files, fi)
	return &lock{f: f, fi: fi}, nil
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
	held.Lock()
	defer held.Unlock()
	held.files = slices.DeleteFunc(held.files, func(h os.FileInfo) bool { return h == l.fi })
	return l.f.Close() // which releases the lock
}
