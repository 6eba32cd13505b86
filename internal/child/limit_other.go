//go:build !unix

package child

import (
	"errors"

	"github.com/localtasks/localtasks/internal/wire"
)

// The process pool does not start here (osproc.Supported).

func limit(wire.Spec) error { return nil }

func dup2(from, to int) error { return errors.ErrUnsupported }
