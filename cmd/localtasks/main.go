// Command localtasks inspects and controls the background tasks of a running
// program through its dashboard (package
// github.com/localtasks/localtasks/dashboard): snapshots of every backend,
// one run's result, a run's progress followed live, and cancel, retry,
// strike, restore, pause and resume. Run "localtasks help" for usage; the
// work is done by package internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/localtasks/localtasks/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
