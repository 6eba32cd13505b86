//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package sqlitejournal

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive POSIX record lock on all of f without
// waiting: errLocked if another process holds it.
//
// A POSIX lock belongs to the process, where an flock belongs to the open
// file: a process that this one starts holds no copy of it, whereas it
// would hold a copy of an flock from its fork to its exec (and a Close
// then would not release it at once). The lock does not conflict with this
// process's own: acquire's list of held files stops a second Open here.
func lockFile(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
			return errLocked
		}
		return err
	}
}
