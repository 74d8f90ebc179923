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

// memoryLimit is the soft limit on the Go runtime's own memory (heap,
// stacks, its metadata; not the binary's pages) unless GOMEMLIMIT or GOGC
// says otherwise. A run lives for milliseconds to seconds: a converged tick
// allocates a few MiB and, at Go's default target, never collects at all;
// the JSON document of a 500-module box among thousands of processes is the
// one thing that grows the heap past 10 MiB, and there the limit makes the
// collector run and return memory to the system instead of letting the heap
// double. It replaced a fixed GOGC of 50, which collected on every run
// without lowering that peak enough (bench/README.md, issue 11). The limit
// is soft: a run that needs more gets it, with more collections.
const memoryLimit = 10 << 20

func main() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainAs(ctx, cli.ProgName(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
