//go:build !unix

package osproc

import "errors"

// KillGroup: the pool does not start workers here.
func KillGroup(int) error { return errors.ErrUnsupported }

// WaitExited: the pool does not start workers here.
func WaitExited(int) bool { return false }
