// Command parachute converges a Parachute box (a hub and its modules) to a
// runtime model — supervised by systemd or launchd, detached, or absent —
// and keeps it there. Installed as parachute-reconcile (the packaged name)
// it also runs reconcile without a command. See `parachute-reconcile help`
// and the README.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/parachute/reconcile/internal/cli"
)

// memoryLimit is a soft limit on the Go runtime's own memory (heap, stacks,
// its metadata; not the binary's pages), unless GOMEMLIMIT or GOGC says
// otherwise. A converged tick allocates a few MiB and never collects; the
// largest runs, a 500-module box among 2,500 processes, build a document of
// several MiB, and there, with the collector paced by GOGC alone, the peak
// resident set reached 21 MiB in one run under load and 14 in another
// (bench/README.md, issue 11). Past this limit the collector runs as often
// as it must to stay under it (it is soft: a run that needs more gets it).
// A box several times larger, whose live heap nears the limit, would make
// the collector run almost continuously (Go caps it near half the CPU):
// such a run is slower, not wrong; GOMEMLIMIT or GOGC in the environment
// override this.
const memoryLimit = 12 << 20

func main() {
	// First: a run that looks at the box starts connecting to the service
	// manager here, while the rest of the process sets itself up.
	inv := cli.Start(cli.ProgName(os.Args[0]), os.Args[1:])
	if os.Getenv("GOMEMLIMIT") == "" && os.Getenv("GOGC") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// SIGINT and SIGTERM are caught from the moment a run is about to
	// change something (Run); until then they end the process at once.
	os.Exit(inv.Run(context.Background(), os.Stdout, os.Stderr))
}
