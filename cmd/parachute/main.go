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
	"syscall"

	"github.com/parachute/reconcile/internal/cli"
)

// The garbage collector runs at Go's defaults. A converged tick allocates
// a few MiB and never collects; a 500-module box among 2,500 processes peaks
// at 13–15 MB resident (bench/README.md, issue 11). An earlier fixed GOGC of
// 50 and a 10 MiB soft limit were both tried: neither lowered that peak by
// more than a MiB, and both made large runs collect more.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainAs(ctx, cli.ProgName(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
