//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package sqlitejournal

import "os"

// lockFile takes no lock: this system has no flock. Keeping to one program
// a journal is then the user's task.
func lockFile(*os.File) error { return nil }
