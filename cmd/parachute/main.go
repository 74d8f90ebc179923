// Command parachute converges a Parachute box (a hub and its modules) to a
// runtime model — supervised by systemd or launchd, detached, or absent —
// and keeps it there. Installed as parachute-reconcile (the packaged name)
// it also runs reconcile without a command. See `parachute-reconcile help`
// and the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/parachute/reconcile/internal/cli"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise. A
// run lives for milliseconds to seconds with a live heap of one or two MiB;
// at Go's default (100) the heap of a 500-module box doubles to 8 MiB while
// the JSON document is written, and that is most of the difference between
// the peak resident set and the binary's own pages. At 50 the peak is 1 to 2
// MiB lower for the same time (bench/README.md, issue 11); each collection
// costs well under a millisecond at this heap size.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainAs(ctx, cli.ProgName(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
