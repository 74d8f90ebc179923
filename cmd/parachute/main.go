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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainAs(ctx, cli.ProgName(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
